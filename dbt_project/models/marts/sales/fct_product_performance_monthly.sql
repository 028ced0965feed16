{{
    config(
        materialized='incremental',
        unique_key='order_month',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {
                'columns': ['order_month', 'product_id', 'region_name'],
                'unique': True,
            },
            {'columns': ['category_id']},
            {'columns': ['region_name']},
        ]
    )
}}
-- depends_on: {{ ref('fct_order_lines') }}
-- One row per month, product sold that month and sales region of the buying
-- customer: units, revenue (line amount less its share of the order's
-- discount), cost of goods and gross margin of orders not cancelled; sum the
-- regions for the product. Regions as fct_sales_geography_monthly: orders of
-- customers the shop does not know fall in region 'Unknown'. The sum of
-- int_product_sales_daily's days.
-- Incremental by month: a run rebuilds the months from the first one
-- fct_order_lines re-read in its late-arrival window on (the days that
-- int_product_sales_daily rebuilt).
{% if is_incremental() %}
    {% set first_month = first_changed_period(
        ref('fct_order_lines'), 'order_date'
    ) %}
{% endif %}
with

product_days as (

    select * from {{ ref('int_product_sales_daily') }}

    {% if is_incremental() %}

        where order_date >= {{ first_month }}

    {% endif %}

),

products as (

    select * from {{ ref('dim_products') }}

),

product_months as (

    select
        product_id,
        region_name,
        cast(date_trunc('month', order_date) as date) as order_month,
        -- sums of counts: bigint, as the counts of the days they add up
        cast(sum(order_count) as bigint) as order_count,
        cast(sum(units_sold) as bigint) as units_sold,
        sum(revenue) as revenue,
        sum(cost_of_goods) as cost_of_goods,
        sum(gross_margin) as gross_margin

    from product_days
    group by 1, 2, 3

),

final as (

    select
        product_months.order_month,
        product_months.product_id,
        product_months.region_name,
        products.product_name,
        products.category_id,
        products.category_name,
        product_months.order_count,
        product_months.units_sold,
        cast(product_months.revenue as numeric(18, 2)) as revenue,
        cast(product_months.cost_of_goods as numeric(18, 2))
            as cost_of_goods,
        cast(product_months.gross_margin as numeric(18, 2)) as gross_margin,
        cast(
            100.0 * product_months.gross_margin
            / nullif(product_months.revenue, 0) as numeric(9, 2)
        ) as gross_margin_pct

    from product_months
    left join products
        on product_months.product_id = products.product_id

)

select * from final
