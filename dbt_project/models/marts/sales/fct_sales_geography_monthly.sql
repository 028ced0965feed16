{{
    config(
        materialized='incremental',
        unique_key='order_month',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['order_month', 'country_code'], 'unique': True},
            {'columns': ['region_name']},
        ]
    )
}}
-- One row per month and country of the buying customer: orders not
-- cancelled, customers, revenue and gross margin; sum the rows of a region
-- for the region. Orders of customers the shop does not know fall in country
-- 'ZZ' (ISO's code for an unknown country) and region 'Unknown'.
-- Incremental by month: a run rebuilds the months from the first one
-- fct_orders re-read in its late-arrival window on.
with

orders as (

    select * from {{ ref('fct_orders') }}

    {% if is_incremental() %}

        where
            order_date
            >= {{ first_changed_period(ref('fct_orders'), 'order_date') }}

    {% endif %}

),

geography as (

    select * from {{ ref('dim_geography') }}

),

revenue_orders as (

    select * from orders
    where not is_cancelled

),

country_months as (

    select
        order_month,
        coalesce(country_code, 'ZZ') as country_code,
        count(*) as order_count,
        count(distinct customer_id) as customer_count,
        sum(revenue) as revenue,
        sum(gross_margin) as gross_margin

    from revenue_orders
    group by 1, 2

),

final as (

    select
        country_months.order_month,
        country_months.country_code,
        geography.region_id,
        country_months.order_count,
        country_months.customer_count,
        cast(country_months.revenue as numeric(18, 2)) as revenue,
        cast(country_months.gross_margin as numeric(18, 2)) as gross_margin,
        cast(
            country_months.revenue / nullif(country_months.order_count, 0)
            as numeric(18, 2)
        ) as average_order_value,
        coalesce(geography.country_name, 'Unknown') as country_name,
        coalesce(geography.region_name, 'Unknown') as region_name

    from country_months
    left join geography
        on country_months.country_code = geography.country_code

)

select * from final
