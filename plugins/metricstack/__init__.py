"""metricstack: an analytics platform of Airflow, dbt, Great Expectations and Superset."""
