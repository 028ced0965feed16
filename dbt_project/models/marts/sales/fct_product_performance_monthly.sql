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
-- One row per month, product sold that month and sales region of the buying
-- customer: units, revenue (line amount less its share of the order's
-- discount), cost of goods and gross margin of orders not cancelled; sum the
-- regions for the product. Regions as fct_sales_geography_monthly: orders of
-- customers the shop does not know fall in region 'Unknown'.
-- Incremental by month: a run rebuilds the months from the first one
-- fct_order_lines re-read in its late-arrival window on.
{% if is_incremental() %}
    {% set first_month = first_changed_period(
        ref('fct_order_lines'), 'order_date'
    ) %}
{% endif %}
with

order_lines as (

    select * from {{ ref('fct_order_lines') }}

    {% if is_incremental() %}

        where order_date >= {{ first_month }}

    {% endif %}

),

orders as (

    select * from {{ ref('fct_orders') }}

    {% if is_incremental() %}

        where order_date >= {{ first_month }}

    {% endif %}

),

geography as (

    select * from {{ ref('dim_geography') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

sold_lines as (

    select
        order_lines.order_id,
        order_lines.product_id,
        order_lines.order_date,
        order_lines.quantity,
        order_lines.net_revenue,
        order_lines.cost_of_goods,
        order_lines.gross_margin,
        coalesce(geography.region_name, 'Unknown') as region_name

    from order_lines
    left join orders
        on order_lines.order_id = orders.order_id
    left join geography
        on orders.country_code = geography.country_code
    where not order_lines.is_cancelled

),

product_months as (

    select
        product_id,
        region_name,
        cast(date_trunc('month', order_date) as date) as order_month,
        count(distinct order_id) as order_count,
        sum(quantity) as units_sold,
        sum(net_revenue) as revenue,
        sum(cost_of_goods) as cost_of_goods,
        sum(gross_margin) as gross_margin

    from sold_lines
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
