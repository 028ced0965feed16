{{
    config(
        materialized='incremental',
        unique_key='order_date',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['order_date'], 'unique': True}],
        post_hook=["delete from {{ this }} where order_count = 0"],
    )
}}
-- Incremental by day: a run rewrites the days of the orders fct_orders
-- re-read in its late-arrival window (before its newest load), reading them
-- through fct_orders' indexes on loaded_at and order_date. A day left with no
-- order (all cancelled) gets a row of zeros that replaces the old one and
-- that the post-hook deletes.
with

{% if is_incremental() %}

    changed_days as (

        select distinct orders_loaded.order_date
        from {{ ref('fct_orders') }} as orders_loaded
        where
            orders_loaded.loaded_at
            >= {{ late_arrival_since(ref('fct_orders')) }}

    ),

{% endif %}

orders as (

    select * from {{ ref('fct_orders') }}

    {% if is_incremental() %}

        where
            order_date in (select changed_days.order_date from changed_days)

    {% endif %}

),

daily as (

    -- revenue counts every order that was not cancelled, delivered or still
    -- shipping; returns are refunds of their own, not a lower revenue.
    -- Revenue is the goods sold net of discounts: shipping fees are
    -- shipping income, as the general ledger books them
    select
        order_date,
        count(*) filter (where not is_cancelled) as order_count,
        sum(revenue) filter (where not is_cancelled) as revenue

    from orders
    group by 1

    {% if not is_incremental() %}

        having count(*) filter (where not is_cancelled) > 0

    {% endif %}

),

daily_revenue as (

    -- the mart's contract: amounts in EUR to the cent
    select
        order_date,
        order_count,
        cast(coalesce(revenue, 0) as numeric(18, 2)) as revenue,
        cast(revenue / nullif(order_count, 0) as numeric(18, 2))
            as average_order_value

    from daily

)

select * from daily_revenue
