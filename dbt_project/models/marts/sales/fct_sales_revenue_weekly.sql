{{ config(indexes=[{'columns': ['period_start'], 'unique': True}]) }}
-- Revenue per week (orders not cancelled, subtotal - discount), with the
-- previous week and the same week 52 weeks (364 days) earlier, and growth in
-- per cent.
-- Every week from the first to the last day of orders has a row.
with

orders as (

    select * from {{ ref('fct_orders') }}

),

time_spine as (

    select * from {{ ref('metricflow_time_spine') }}

),

revenue_orders as (

    select * from orders
    where not is_cancelled

),

order_days as (

    select
        min(order_date) as first_day,
        max(order_date) as last_day

    from orders

),

periods as (

    select distinct
        cast(date_trunc('week', time_spine.date_day) as date)
            as period_start

    from time_spine
    inner join order_days
        on
            time_spine.date_day between order_days.first_day
            and order_days.last_day

),

period_revenue as (

    select
        cast(date_trunc('week', order_date) as date) as period_start,
        count(*) as order_count,
        count(distinct customer_id) as customer_count,
        sum(revenue) as revenue,
        sum(gross_margin) as gross_margin

    from revenue_orders
    group by 1

),

every_period as (

    select
        periods.period_start,
        coalesce(period_revenue.order_count, 0) as order_count,
        coalesce(period_revenue.customer_count, 0) as customer_count,
        coalesce(period_revenue.revenue, 0) as revenue,
        coalesce(period_revenue.gross_margin, 0) as gross_margin

    from periods
    left join period_revenue
        on periods.period_start = period_revenue.period_start

),

compared as (

    select
        every_period.period_start,
        every_period.order_count,
        every_period.customer_count,
        every_period.revenue,
        every_period.gross_margin,
        previous_period.revenue as previous_period_revenue,
        same_period_last_year.revenue as same_period_last_year_revenue

    from every_period
    left join every_period as previous_period
        on
            every_period.period_start - interval '7 days'
            = previous_period.period_start
    left join every_period as same_period_last_year
        on
            every_period.period_start - interval '364 days'
            = same_period_last_year.period_start

),

final as (

    select
        period_start,
        order_count,
        customer_count,
        cast(revenue as numeric(18, 2)) as revenue,
        cast(gross_margin as numeric(18, 2)) as gross_margin,
        cast(previous_period_revenue as numeric(18, 2))
            as previous_period_revenue,
        cast(same_period_last_year_revenue as numeric(18, 2))
            as same_period_last_year_revenue,
        cast(revenue / nullif(order_count, 0) as numeric(18, 2))
            as average_order_value,
        cast(100.0 * gross_margin / nullif(revenue, 0) as numeric(9, 2))
            as gross_margin_pct,
        cast(
            100.0 * (revenue - previous_period_revenue)
            / nullif(previous_period_revenue, 0) as numeric(9, 2)
        ) as revenue_growth_pct,
        cast(
            100.0 * (revenue - same_period_last_year_revenue)
            / nullif(same_period_last_year_revenue, 0) as numeric(9, 2)
        ) as revenue_yoy_growth_pct

    from compared

)

select * from final
