{{
    config(
        materialized='incremental',
        unique_key='order_month',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['order_month', 'product_id'], 'unique': True},
            {'columns': ['category_id']},
        ]
    )
}}
-- One row per month and product sold that month: units, revenue (line amount
-- less its share of the order's discount), cost of goods and gross margin of
-- orders not cancelled.
-- Incremental by month: a run rebuilds the months from the first one
-- fct_order_lines re-read in its late-arrival window on.
with

order_lines as (

    select * from {{ ref('fct_order_lines') }}

    {% if is_incremental() %}

        where
            order_date
            >= {{ first_changed_period(ref('fct_order_lines'), 'order_date') }}

    {% endif %}

),

products as (

    select * from {{ ref('dim_products') }}

),

sold_lines as (

    select * from order_lines
    where not is_cancelled

),

product_months as (

    select
        product_id,
        cast(date_trunc('month', order_date) as date) as order_month,
        count(distinct order_id) as order_count,
        sum(quantity) as units_sold,
        sum(net_revenue) as revenue,
        sum(cost_of_goods) as cost_of_goods,
        sum(gross_margin) as gross_margin

    from sold_lines
    group by 1, 2

),

final as (

    select
        product_months.order_month,
        product_months.product_id,
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
