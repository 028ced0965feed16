{{
    config(
        materialized='incremental',
        unique_key='period_start',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['period_start'], 'unique': True}],
    )
}}
-- Revenue per week (orders not cancelled, subtotal - discount), with
-- the previous week and the same week 52 weeks (364 days)
-- earlier (weeks from Monday), and growth in per cent. Every week from the
-- first to the last day of orders has a row. Incremental by period (see the
-- macro sales_revenue_by_period).
{{ sales_revenue_by_period('week', '7 days', '364 days') }}
