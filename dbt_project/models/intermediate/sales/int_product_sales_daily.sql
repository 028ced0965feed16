{{
    config(
        materialized='incremental',
        unique_key='order_date',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {
                'columns': ['order_date', 'product_id', 'region_name'],
                'unique': True,
            },
        ]
    )
}}
-- One row per day, product sold that day and sales region of the buying
-- customer (orders not cancelled): orders, units, revenue, cost of goods and
-- gross margin, unrounded. The day grain of fct_product_performance_monthly:
-- an order falls on one day, so a month's orders with a product are the sum
-- of its days', and a day's run re-reads days of lines, not a month of them.
-- Incremental by day: a run rebuilds the days from the first one
-- fct_order_lines re-read in its late-arrival window on.
{% if is_incremental() %}
    {% set first_day = first_changed_period(
        ref('fct_order_lines'), 'order_date', 'day'
    ) %}
{% endif %}
with

order_lines as (

    select * from {{ ref('fct_order_lines') }}

    {% if is_incremental() %}

        where order_date >= {{ first_day }}

    {% endif %}

),

orders as (

    select * from {{ ref('fct_orders') }}

    {% if is_incremental() %}

        where order_date >= {{ first_day }}

    {% endif %}

),

geography as (

    select * from {{ ref('dim_geography') }}

),

sold_lines as (

    select
        order_lines.order_id,
        order_lines.product_id,
        order_lines.order_date,
        order_lines.quantity,
        order_lines.net_revenue,
        order_lines.cost_of_goods,
        order_lines.gross_margin,
        coalesce(geography.region_name, 'Unknown') as region_name

    from order_lines
    left join orders
        on order_lines.order_id = orders.order_id
    left join geography
        on orders.country_code = geography.country_code
    where not order_lines.is_cancelled

),

product_days as (

    select
        order_date,
        product_id,
        region_name,
        count(distinct order_id) as order_count,
        sum(quantity) as units_sold,
        sum(net_revenue) as revenue,
        sum(cost_of_goods) as cost_of_goods,
        sum(gross_margin) as gross_margin

    from sold_lines
    group by 1, 2, 3

)

select * from product_days
