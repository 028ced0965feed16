"""Start, stop and check the processes of the local stack."""
