{{
    config(
        materialized='incremental',
        unique_key='activity_month',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {
                'columns': ['cohort_month', 'months_since_signup'],
                'unique': True,
            },
        ]
    )
}}
-- The cohort retention matrix: one row per signup month (the cohort) and
-- month k since signup (0 = the signup month) up to the last month of data:
-- the cohort's size and the share of it that placed an order (not
-- cancelled) in month k. Cohorts are the months from the first order's month
-- on (customers who signed up before the data starts have no cohort).
-- Incremental by activity month: a run rebuilds, for every cohort, the
-- months from the first one that changed on: the first month of the orders
-- fct_orders re-read in its late-arrival window, or of the signups of the
-- customers loaded in theirs (a cohort's size changes with a signup), and
-- reads only those months' orders.
{%- if is_incremental() %}
    {%- set first_month = (
        'least('
        ~ first_changed_period(ref('fct_orders'), 'order_date') ~ ', '
        ~ first_changed_period(ref('stg_shop__customers'), 'signup_date')
        ~ ')'
    ) %}
{%- endif %}
with

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

-- not materialized: read through its indexes where each use filters it (a
-- CTE used twice is otherwise copied whole first: 10M rows, 6 s)
orders as not materialized (

    select * from {{ ref('fct_orders') }}

),

order_days as (

    select
        min(order_date) as first_day,
        max(order_date) as as_of_date

    from orders

),

cohort_members as (

    select
        customers.customer_id,
        cast(date_trunc('month', customers.signup_date) as date)
            as cohort_month

    from customers
    cross join order_days
    where
        customers.signup_date
        >= cast(date_trunc('month', order_days.first_day) as date)

),

cohort_sizes as (

    select
        cohort_month,
        count(*) as cohort_size

    from cohort_members
    group by 1

),

customer_order_months as (

    select distinct
        customer_id,
        cast(date_trunc('month', order_date) as date) as order_month

    from orders
    where
        not is_cancelled and is_known_customer

        {% if is_incremental() %}

            and order_date >= {{ first_month }}

        {% endif %}

),

cohort_activity as (

    select
        cohort_members.cohort_month,
        (
            extract(year from customer_order_months.order_month)
            - extract(year from cohort_members.cohort_month)
        ) * 12
        + extract(month from customer_order_months.order_month)
        - extract(month from cohort_members.cohort_month)
            as months_since_signup,
        count(distinct cohort_members.customer_id) as ordering_customers

    from cohort_members
    inner join customer_order_months
        on cohort_members.customer_id = customer_order_months.customer_id
    where customer_order_months.order_month >= cohort_members.cohort_month
    group by 1, 2

),

grid as (

    select
        cohort_sizes.cohort_month,
        cohort_sizes.cohort_size,
        cast(month_offsets.months_since_signup as int) as months_since_signup

    from cohort_sizes
    cross join order_days
    cross join lateral generate_series(
        0,
        cast(
            (
                extract(year from order_days.as_of_date)
                - extract(year from cohort_sizes.cohort_month)
            ) * 12
            + extract(month from order_days.as_of_date)
            - extract(month from cohort_sizes.cohort_month)
            as int
        )
    ) as month_offsets (months_since_signup)

),

final as (

    select
        grid.cohort_month,
        grid.months_since_signup,
        grid.cohort_size,
        cast(
            grid.cohort_month
            + make_interval(months => grid.months_since_signup)
            as date
        ) as activity_month,
        cast(
            1.0 * coalesce(cohort_activity.ordering_customers, 0)
            / grid.cohort_size as numeric(9, 4)
        ) as retention_rate,
        coalesce(cohort_activity.ordering_customers, 0) as ordering_customers

    from grid
    left join cohort_activity
        on
            grid.cohort_month = cohort_activity.cohort_month
            and grid.months_since_signup = cohort_activity.months_since_signup

)

select * from final

{% if is_incremental() %}

    where activity_month >= {{ first_month }}

{% endif %}
