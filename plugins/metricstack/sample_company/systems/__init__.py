"""The sample company's source systems: shop database, landing folder, CRM API, S3 drops."""
