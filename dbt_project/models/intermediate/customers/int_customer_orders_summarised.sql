-- One row per known customer who placed at least one order that was not
-- cancelled: first and last order day, orders, revenue and gross margin.
with

orders as (

    select * from {{ ref('int_orders_joined') }}

),

revenue_orders as (

    select * from orders
    where not is_cancelled and is_known_customer

),

customer_orders as (

    select
        customer_id,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date,
        count(*) as order_count,
        sum(revenue) as revenue,
        sum(gross_margin) as gross_margin

    from revenue_orders
    group by 1

)

select * from customer_orders
