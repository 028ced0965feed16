{{
    config(
        materialized='incremental',
        unique_key='customer_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['customer_id'], 'unique': True}],
        post_hook=[
            "delete from {{ this }} where order_count = 0",
        ],
    )
}}
-- One row per known customer who placed at least one order that was not
-- cancelled: first and last order day, orders, revenue and gross margin.
-- A table kept by customer: an incremental run summarises again the
-- customers of the orders fct_orders re-read in its late-arrival window. A
-- customer left with no order (all cancelled) gets a row of zeros, which
-- replaces the old one and which the post-hook deletes.
with

{% if is_incremental() %}

    changed_customers as (

        select changed_orders.customer_id
        from {{ ref('fct_orders') }} as changed_orders
        where
            changed_orders.loaded_at
            >= {{ late_arrival_since(ref('fct_orders')) }}

    ),

{% endif %}

orders as (

    select * from {{ ref('fct_orders') }}

    {% if is_incremental() %}

        where
            customer_id = any(array(
                select changed_customers.customer_id from changed_customers
            ))

    {% endif %}

),

known_customer_orders as (

    select * from orders
    where is_known_customer

),

customer_orders as (

    select
        customer_id,
        min(order_date) filter (where not is_cancelled) as first_order_date,
        max(order_date) filter (where not is_cancelled) as last_order_date,
        count(*) filter (where not is_cancelled) as order_count,
        coalesce(sum(revenue) filter (where not is_cancelled), 0) as revenue,
        coalesce(sum(gross_margin) filter (where not is_cancelled), 0)
            as gross_margin

    from known_customer_orders
    group by 1

    {% if not is_incremental() %}

        having count(*) filter (where not is_cancelled) > 0

    {% endif %}

)

select * from customer_orders
