with

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

completed_orders as (

    -- revenue counts completed orders only:
    -- returns and cancellations earn nothing
    select * from orders
    where order_status = 'completed'

),

daily as (

    select
        order_date,
        count(*) as order_count,
        sum(order_amount) as revenue,
        sum(order_amount) / count(*) as average_order_value

    from completed_orders
    group by 1

),

daily_revenue as (

    -- the mart's contract: amounts in EUR to the cent
    select
        order_date,
        order_count,
        cast(revenue as numeric(18, 2)) as revenue,
        cast(average_order_value as numeric(18, 2)) as average_order_value

    from daily

)

select * from daily_revenue
