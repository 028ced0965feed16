-- customer_id only: an index on is_churned (two values) would cost seconds a
-- day at millions of customers and serve no query a scan would not
{{ config(indexes=[{'columns': ['customer_id'], 'unique': True}]) }}
-- One row per customer with at least one order not cancelled: historic
-- revenue and gross margin, the churn flag (no order in the 180 days up to
-- the last day of data) and a simple predicted lifetime value:
--   predicted_clv = average_order_value * monthly_purchase_frequency
--                   * expected_lifetime_months
-- average_order_value = the customer's revenue / orders;
-- monthly_purchase_frequency = orders / months since the first order (at
-- least 1; a month is 30.4375 days); expected_lifetime_months = 1 / the mean
-- monthly churn rate of the last 12 churn-observable months
-- (fct_customer_churn_monthly), null while none is observable.
with

orders as (

    select * from {{ ref('fct_orders') }}

),

customer_orders as (

    select * from {{ ref('int_customer_orders_summarised') }}

),

churn_months as (

    select * from {{ ref('fct_customer_churn_monthly') }}

),

as_of as (

    select max(order_date) as as_of_date
    from orders

),

recent_churn as (

    select
        month_start,
        churn_rate

    from churn_months
    where is_churn_observable and churn_rate is not null
    order by 1 desc
    limit 12

),

expected_lifetime as (

    select 1.0 / nullif(avg(churn_rate), 0) as expected_lifetime_months
    from recent_churn

),

measured as (

    select
        customer_orders.customer_id,
        customer_orders.first_order_date,
        customer_orders.last_order_date,
        customer_orders.order_count,
        customer_orders.revenue,
        customer_orders.gross_margin,
        as_of.as_of_date,
        expected_lifetime.expected_lifetime_months,
        as_of.as_of_date - customer_orders.last_order_date
            as days_since_last_order,
        customer_orders.revenue / customer_orders.order_count
            as average_order_value,
        customer_orders.order_count / greatest(
            (as_of.as_of_date - customer_orders.first_order_date + 1)
            / 30.4375,
            1
        ) as monthly_purchase_frequency

    from customer_orders
    cross join as_of
    cross join expected_lifetime

),

final as (

    select
        customer_id,
        as_of_date,
        first_order_date,
        last_order_date,
        order_count,
        days_since_last_order,
        cast(revenue as numeric(18, 2)) as historic_revenue,
        cast(gross_margin as numeric(18, 2)) as historic_gross_margin,
        cast(average_order_value as numeric(18, 2)) as average_order_value,
        cast(monthly_purchase_frequency as numeric(18, 4))
            as monthly_purchase_frequency,
        cast(expected_lifetime_months as numeric(18, 2))
            as expected_lifetime_months,
        cast(
            average_order_value * monthly_purchase_frequency
            * expected_lifetime_months as numeric(18, 2)
        ) as predicted_clv,
        days_since_last_order >= 180 as is_churned

    from measured

)

select * from final
