{{
    config(
        materialized='incremental',
        unique_key='period_start',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['period_start'], 'unique': True}],
    )
}}
-- Revenue per day (orders not cancelled, subtotal - discount), with
-- the previous day and the same weekday 52 weeks (364 days)
-- earlier, and growth in per cent. Every day from the
-- first to the last day of orders has a row. Incremental by period (see the
-- macro sales_revenue_by_period).
{{ sales_revenue_by_period('day', '1 day', '364 days') }}
