"""The DAGs of the platform, built from the source declarations and the dbt project.

DAG files in ``dags/`` only call these builders, so that what a DAG does is tested
and typed like the rest of the package, and nothing runs when a DAG file is parsed.
"""
