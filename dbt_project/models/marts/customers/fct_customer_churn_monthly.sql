{{
    config(
        materialized='incremental',
        unique_key='month_start',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['month_start'], 'unique': True}],
    )
}}
-- One row per month of data: the customers active at its start (an order not
-- cancelled in the 180 days before), those who churned in it (their 180th
-- day without an order fell in the month), the churn rate, and new customers
-- (first order that month). Churn needs 180 days of history to be seen:
-- is_churn_observable marks the months that start 180 days or more after the
-- first order day.
-- Incremental by month: a month's figures read the orders of the 180 days
-- before it and of the month itself, so an order changed on day c changes
-- the months from c's on. A run rebuilds the months from the first one
-- fct_orders re-read in its late-arrival window on, reading the orders from
-- 181 days before it: the day's cost follows the day, not the history.
{%- if is_incremental() %}
    {%- set first_month = first_changed_period(
        ref('fct_orders'), 'order_date'
    ) %}
{%- endif %}
with

-- not materialized: read through its indexes where each use filters it (a
-- CTE used twice is otherwise copied whole first: 10M rows, 6 s)
orders as not materialized (

    select * from {{ ref('fct_orders') }}

),

customer_orders as (

    select * from {{ ref('int_customer_orders_summarised') }}

),

time_spine as (

    select * from {{ ref('metricflow_time_spine') }}

),

order_days as (

    select
        min(order_date) as first_day,
        max(order_date) as as_of_date

    from orders

),

customer_order_days as (

    select distinct
        customer_id,
        order_date

    from orders
    where
        not is_cancelled and is_known_customer

        {% if is_incremental() %}

            and order_date >= {{ first_month }} - 181

        {% endif %}

),

next_orders as (

    select
        customer_id,
        order_date,
        lead(order_date) over (
            partition by customer_id order by order_date
        ) as next_order_date

    from customer_order_days

),

churn_events as (

    -- churned on the 180th day after an order not followed within 180 days
    select
        next_orders.customer_id,
        next_orders.order_date + 180 as churn_date

    from next_orders
    cross join order_days
    where
        (
            next_orders.next_order_date is null
            or next_orders.next_order_date > next_orders.order_date + 180
        )
        and next_orders.order_date + 180 <= order_days.as_of_date

),


months as (

    select
        cast(time_spine.date_day as date) as month_start,
        order_days.first_day

    from time_spine
    inner join order_days
        on
            time_spine.date_day
            between cast(date_trunc('month', order_days.first_day) as date)
            and order_days.as_of_date
    where
        extract(day from time_spine.date_day) = 1

        {% if is_incremental() %}

            and time_spine.date_day >= {{ first_month }}

        {% endif %}

),

customers_active_at_start as (

    -- distinct rows rather than count(distinct): hashed, where a count
    -- (distinct) sorts millions of order days
    select distinct
        months.month_start,
        customer_order_days.customer_id

    from months
    inner join customer_order_days
        on
            customer_order_days.order_date >= months.month_start - 180
            and months.month_start > customer_order_days.order_date

),

active_at_start as (

    select
        month_start,
        count(*) as active_customers

    from customers_active_at_start
    group by 1

),

churned as (

    select
        cast(date_trunc('month', churn_date) as date) as month_start,
        count(*) as churned_customers

    from churn_events
    group by 1

),

new_customers as (

    select
        cast(date_trunc('month', first_order_date) as date) as month_start,
        count(*) as new_customers

    from customer_orders

    {% if is_incremental() %}

        where first_order_date >= {{ first_month }}

    {% endif %}

    group by 1

),

final as (

    select
        months.month_start,
        cast(
            1.0 * coalesce(churned.churned_customers, 0)
            / nullif(active_at_start.active_customers, 0) as numeric(9, 4)
        ) as churn_rate,
        coalesce(active_at_start.active_customers, 0)
            as active_customers_at_start,
        coalesce(churned.churned_customers, 0) as churned_customers,
        coalesce(new_customers.new_customers, 0) as new_customers,
        months.month_start >= months.first_day + 180 as is_churn_observable

    from months
    left join active_at_start
        on months.month_start = active_at_start.month_start
    left join churned
        on months.month_start = churned.month_start
    left join new_customers
        on months.month_start = new_customers.month_start

)

select * from final
