{{
    config(
        materialized='incremental',
        unique_key='period_start',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['period_start'], 'unique': True}],
    )
}}
-- Revenue per month (orders not cancelled, subtotal - discount), with
-- the previous month and the same month a year
-- earlier, and growth in per cent. Every month from the
-- first to the last day of orders has a row. Incremental by period (see the
-- macro sales_revenue_by_period).
{{ sales_revenue_by_period('month', '1 month', '1 year') }}
