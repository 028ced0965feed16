{{
    config(
        materialized='incremental',
        unique_key='signup_month',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {
                'columns': ['signup_month', 'acquisition_channel'],
                'unique': True,
            },
        ]
    )
}}
-- One row per month of data and acquisition channel: marketing spend, new
-- customers (signed up that month through the channel), customer
-- acquisition cost and its payback:
--   cac = marketing spend of the channel that month / its new customers
--         (null for channels without marketing spend: organic_search,
--         referral, sales_outreach);
--   gross_margin_per_active_customer = gross margin of the orders (not
--         cancelled) of the channel's customers that month / the channel's
--         customers active that month (an order in the 180 days to its end);
--   payback_months = cac / gross_margin_per_active_customer.
-- Incremental by month: a month reads its spend, its signups and the orders
-- of the 180 days to its end. A run rebuilds the months from the first one
-- that changed on (of the orders fct_orders re-read in its late-arrival
-- window, of the customers and of the spend loaded in theirs), reading the
-- orders from 180 days before it.
-- depends_on: {{ ref('stg_marketing__marketing_spend') }}
{%- if is_incremental() %}
    {%- set first_month = (
        'least('
        ~ first_changed_period(ref('fct_orders'), 'order_date') ~ ', '
        ~ first_changed_period(ref('stg_shop__customers'), 'signup_date') ~ ', '
        ~ first_changed_period(
            ref('stg_marketing__marketing_spend'), 'spend_date'
        )
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

marketing_spend as (

    select * from {{ ref('fct_marketing_spend') }}

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

months as (

    select
        cast(time_spine.date_day as date) as signup_month,
        cast(
            time_spine.date_day + interval '1 month' - interval '1 day' as date
        )
            as month_end

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

paid_channels as (

    select distinct marketing_channel
    from marketing_spend

),

revenue_orders as (

    select * from orders
    where
        not is_cancelled and is_known_customer

        {% if is_incremental() %}

            and order_date >= {{ first_month }} - 180

        {% endif %}

),

monthly_spend as (

    select
        marketing_channel as acquisition_channel,
        cast(date_trunc('month', spend_date) as date) as signup_month,
        sum(spend_amount) as marketing_spend

    from marketing_spend
    group by 1, 2

),

monthly_signups as (

    select
        acquisition_channel,
        cast(date_trunc('month', signup_date) as date) as signup_month,
        count(*) as new_customers

    from customers

    {% if is_incremental() %}

        where signup_date >= {{ first_month }}

    {% endif %}

    group by 1, 2

),

channels as (

    -- every channel a customer came through: in an incremental run, those of
    -- the months kept and of the signups read again
    select distinct acquisition_channel
    from monthly_signups

    {% if is_incremental() %}

        union

        select built_months.acquisition_channel
        from {{ this }} as built_months

    {% endif %}

),

monthly_margin as (

    select
        acquisition_channel,
        order_month as signup_month,
        sum(gross_margin) as gross_margin

    from (
        select
            acquisition_channel,
            gross_margin,
            cast(date_trunc('month', order_date) as date) as order_month
        from revenue_orders

        {% if is_incremental() %}

            where order_date >= {{ first_month }}

        {% endif %}

    ) as channel_orders
    group by 1, 2

),

active_customers as (

    -- distinct rows rather than count(distinct): hashed, where a count
    -- (distinct) sorts millions of orders
    select distinct
        revenue_orders.acquisition_channel,
        months.signup_month,
        revenue_orders.customer_id

    from months
    inner join revenue_orders
        on
            revenue_orders.order_date > months.month_end - 180
            and months.month_end >= revenue_orders.order_date

),

monthly_active as (

    select
        acquisition_channel,
        signup_month,
        count(*) as active_customers

    from active_customers
    group by 1, 2

),

channel_months as (

    select
        months.signup_month,
        channels.acquisition_channel,
        paid_channels.marketing_channel is not null as is_paid_channel

    from months
    cross join channels
    left join paid_channels
        on channels.acquisition_channel = paid_channels.marketing_channel

),

joined as (

    select
        channel_months.signup_month,
        channel_months.acquisition_channel,
        channel_months.is_paid_channel,
        coalesce(monthly_spend.marketing_spend, 0) as marketing_spend,
        coalesce(monthly_signups.new_customers, 0) as new_customers,
        coalesce(monthly_margin.gross_margin, 0) as gross_margin,
        coalesce(monthly_active.active_customers, 0) as active_customers

    from channel_months
    left join monthly_spend
        on
            channel_months.signup_month = monthly_spend.signup_month
            and channel_months.acquisition_channel
            = monthly_spend.acquisition_channel
    left join monthly_signups
        on
            channel_months.signup_month = monthly_signups.signup_month
            and channel_months.acquisition_channel
            = monthly_signups.acquisition_channel
    left join monthly_margin
        on
            channel_months.signup_month = monthly_margin.signup_month
            and channel_months.acquisition_channel
            = monthly_margin.acquisition_channel
    left join monthly_active
        on
            channel_months.signup_month = monthly_active.signup_month
            and channel_months.acquisition_channel
            = monthly_active.acquisition_channel

),

costed as (

    select
        *,
        case
            when is_paid_channel
                then marketing_spend / nullif(new_customers, 0)
        end as cac,
        gross_margin / nullif(active_customers, 0)
            as gross_margin_per_active_customer

    from joined

),

final as (

    select
        signup_month,
        acquisition_channel,
        is_paid_channel,
        new_customers,
        active_customers,
        cast(marketing_spend as numeric(18, 2)) as marketing_spend,
        cast(gross_margin as numeric(18, 2)) as gross_margin,
        cast(cac as numeric(18, 2)) as cac,
        cast(gross_margin_per_active_customer as numeric(18, 2))
            as gross_margin_per_active_customer,
        cast(cac / nullif(gross_margin_per_active_customer, 0) as numeric(9, 2))
            as payback_months

    from costed

)

select * from final
