-- Units sold and their cost per product, warehouse and month: the outflow of
-- stock that inventory turnover divides by the average stock on hand.
with

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

order_lines as (

    select * from {{ ref('stg_shop__order_lines') }}

),

shipped_orders as (

    -- cancelled orders never leave the warehouse; delivered and shipping
    -- orders both took their units out of stock
    select
        order_id,
        warehouse_id,
        cast(date_trunc('month', order_date) as date) as sales_month

    from orders
    where not is_cancelled

),

units_sold as (

    select
        shipped_orders.sales_month,
        order_lines.product_id,
        shipped_orders.warehouse_id,
        sum(order_lines.quantity) as units_sold,
        sum(order_lines.quantity * order_lines.unit_cost) as cost_of_units_sold

    from shipped_orders
    inner join order_lines
        on shipped_orders.order_id = order_lines.order_id
    group by 1, 2, 3

)

select * from units_sold
