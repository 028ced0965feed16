{{
    config(
        indexes=[
            {
                'columns': ['order_month', 'category_key', 'region_name'],
                'unique': True,
            },
            {'columns': ['region_name']},
        ]
    )
}}
-- One row per month, product category and sales region of the buying
-- customer: units, revenue, cost of goods, gross margin and the category's
-- share of the region's revenue that month. Lines of products the catalogue
-- does not know fall in category_key 'unknown'; orders of customers the shop
-- does not know in region 'Unknown' (fct_product_performance_monthly).
with

product_months as (

    select * from {{ ref('fct_product_performance_monthly') }}

),

category_months as (

    select
        order_month,
        region_name,
        category_id,
        coalesce(cast(category_id as text), 'unknown') as category_key,
        coalesce(category_name, 'Unknown product') as category_name,
        sum(order_count) as order_line_orders,
        sum(units_sold) as units_sold,
        sum(revenue) as revenue,
        sum(cost_of_goods) as cost_of_goods,
        sum(gross_margin) as gross_margin

    from product_months
    group by 1, 2, 3, 4, 5

),

final as (

    select
        order_month,
        category_key,
        region_name,
        category_id,
        category_name,
        units_sold,
        revenue,
        cost_of_goods,
        gross_margin,
        cast(100.0 * gross_margin / nullif(revenue, 0) as numeric(9, 2))
            as gross_margin_pct,
        cast(
            100.0 * revenue
            / nullif(
                sum(revenue) over (partition by order_month, region_name), 0
            )
            as numeric(9, 2)
        ) as revenue_share_pct

    from category_months

)

select * from final
