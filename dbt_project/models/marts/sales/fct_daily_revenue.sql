with

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

revenue_orders as (

    -- revenue counts every order that was not cancelled, delivered or still
    -- shipping; returns are refunds of their own, not a lower revenue
    select * from orders
    where not is_cancelled

),

daily as (

    -- revenue is the goods sold net of discounts: shipping fees are
    -- shipping income, as the general ledger books them
    select
        order_date,
        count(*) as order_count,
        sum(subtotal - discount) as revenue,
        sum(subtotal - discount) / count(*) as average_order_value

    from revenue_orders
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
