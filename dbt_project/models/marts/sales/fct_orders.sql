-- One row per order: who bought, where, through which channel and sales rep,
-- and what it earned (revenue, cost of goods, gross margin; 0 if cancelled).
with

orders as (

    select * from {{ ref('int_orders_joined') }}

),

final as (

    select
        order_id,
        customer_id,
        sales_rep_id,
        team_id,
        warehouse_id,
        country_code,
        region_id,
        sales_channel,
        acquisition_channel,
        customer_segment,
        ordered_at,
        order_date,
        order_status,
        is_cancelled,
        is_known_customer,
        line_count,
        units,
        subtotal,
        discount,
        shipping_fee,
        order_total,
        revenue,
        cost_of_goods,
        gross_margin,
        cast(date_trunc('month', order_date) as date) as order_month

    from orders

)

select * from final
