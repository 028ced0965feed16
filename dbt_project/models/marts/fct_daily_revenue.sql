with

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

completed_orders as (

    -- revenue counts completed orders only: returns and cancellations earn nothing
    select * from orders
    where order_status = 'completed'

),

daily as (

    select
        order_date,
        count(*) as order_count,
        cast(sum(order_amount) as numeric(18, 2)) as revenue,
        cast(sum(order_amount) / count(*) as numeric(18, 2)) as average_order_value

    from completed_orders
    group by order_date

)

select * from daily
