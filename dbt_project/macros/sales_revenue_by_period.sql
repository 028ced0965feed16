{#- fct_sales_revenue_{daily,weekly,monthly}: revenue per period of `grain`
    (day, week or month) of the orders not cancelled (subtotal - discount), with
    the previous period (`previous_period` earlier) and the same period a year
    earlier (`last_year` earlier), and growth in per cent. Every period from the
    first to the last day of orders has a row.

    Incremental (delete+insert on period_start): a run rebuilds the periods from
    the first one of the orders fct_orders re-read in its late-arrival window on
    (which holds the periods new since the last run, and those that compare
    themselves with a changed one: the next period, the same period a year on);
    the figures of the periods before it are read back from the table. -#}
{% macro sales_revenue_by_period(grain, previous_period, last_year) %}

{%- set period_of -%}
    cast(date_trunc('{{ grain }}', {col}) as date)
{%- endset -%}
{%- if is_incremental() -%}
    {%- set first_period = first_changed_period(
        ref('fct_orders'), 'order_date', grain
    ) -%}
{%- endif -%}

with

orders as not materialized (

    select * from {{ ref('fct_orders') }}

),

time_spine as (

    select * from {{ ref('metricflow_time_spine') }}

),

{% if is_incremental() %}

    built_periods as (

        select * from {{ this }}

    ),

{% endif %}

order_days as (

    select
        min(order_date) as first_day,
        max(order_date) as last_day

    from orders

),

periods as (

    select distinct
        {{ period_of.replace('{col}', 'time_spine.date_day') }} as period_start

    from time_spine
    inner join order_days
        on
            time_spine.date_day between order_days.first_day
            and order_days.last_day

),

revenue_orders as (

    select * from orders
    where
        not is_cancelled
        {% if is_incremental() %}
            and order_date >= {{ first_period }}
        {% endif %}

),

period_revenue as (

    select
        {{ period_of.replace('{col}', 'order_date') }} as period_start,
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

    {% if is_incremental() %}

        where periods.period_start >= {{ first_period }}

        union all

        -- the periods not rebuilt, as the table holds them
        select
            built_periods.period_start,
            built_periods.order_count,
            built_periods.customer_count,
            built_periods.revenue,
            built_periods.gross_margin

        from built_periods
        where built_periods.period_start < {{ first_period }}

    {% endif %}

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
            every_period.period_start - interval '{{ previous_period }}'
            = previous_period.period_start
    left join every_period as same_period_last_year
        on
            every_period.period_start - interval '{{ last_year }}'
            = same_period_last_year.period_start

    {% if is_incremental() %}

        where every_period.period_start >= {{ first_period }}

    {% endif %}

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

{% endmacro %}
