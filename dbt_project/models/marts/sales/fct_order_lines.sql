{{
    config(
        materialized='incremental',
        unique_key='order_line_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['order_line_id'], 'unique': True},
            {'columns': ['order_id']},
            {'columns': ['order_date']},
            {'columns': ['loaded_at']},
        ],
    )
}}
-- One row per order line with its order's day, customer and status, the
-- product's category, and the line's share of revenue, cost and margin.
-- Revenue is the line amount less its share of the order-level discount (the
-- welcome voucher, shared over the lines by amount), so that an order's lines
-- add up to its revenue; cancelled orders earn nothing and cost nothing.
-- The one place where lines meet their orders: fct_orders sums these lines.
-- Incremental: a run re-reads the lines of the orders the loader changed
-- (the order or a line) since the newest load here less the
-- late-arrival window, and merges them on order_line_id.
with

{% if is_incremental() %}

    changed_orders as (

        {{ orders_changed_since(late_arrival_since(this)) }}

    ),

{% endif %}

order_lines as (

    select * from {{ ref('stg_shop__order_lines') }}

    {% if is_incremental() %}

        where
            order_id = any(array(
                select changed_orders.order_id from changed_orders
            ))

    {% endif %}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

    {% if is_incremental() %}

        where
            order_id = any(array(
                select changed_orders.order_id from changed_orders
            ))

    {% endif %}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

lines_joined as (

    select
        order_lines.order_id,
        order_lines.line_number,
        order_lines.product_id,
        products.category_id,
        orders.customer_id,
        orders.sales_rep_id,
        orders.ordered_at,
        orders.order_date,
        orders.is_cancelled,
        order_lines.quantity,
        order_lines.unit_price,
        order_lines.unit_cost,
        order_lines.line_discount,
        order_lines.line_amount,
        order_lines.is_valid_quantity,
        order_lines.order_id * 1000 + order_lines.line_number as order_line_id,
        greatest(order_lines.loaded_at, orders.loaded_at) as loaded_at,
        order_lines.quantity * order_lines.unit_cost as line_cost,
        orders.discount * order_lines.line_amount
        / nullif(orders.subtotal, 0) as allocated_discount

    from order_lines
    inner join orders
        on order_lines.order_id = orders.order_id
    left join products
        on order_lines.product_id = products.product_id

),

lines_valued as (

    select
        order_line_id,
        order_id,
        line_number,
        product_id,
        category_id,
        customer_id,
        sales_rep_id,
        ordered_at,
        order_date,
        is_cancelled,
        quantity,
        is_valid_quantity,
        unit_price,
        unit_cost,
        line_discount,
        line_amount,
        loaded_at,
        cast(coalesce(allocated_discount, 0) as numeric(18, 4))
            as allocated_discount,
        case
            when is_cancelled then 0
            else cast(
                line_amount - coalesce(allocated_discount, 0)
                as numeric(18, 4)
            )
        end as net_revenue,
        case when is_cancelled then 0 else line_cost end as cost_of_goods

    from lines_joined

),

lines_with_margin as (

    select
        *,
        net_revenue - cost_of_goods as gross_margin

    from lines_valued

),

final as (

    select
        order_line_id,
        order_id,
        line_number,
        product_id,
        category_id,
        customer_id,
        sales_rep_id,
        ordered_at,
        order_date,
        is_cancelled,
        quantity,
        is_valid_quantity,
        unit_price,
        unit_cost,
        line_discount,
        line_amount,
        allocated_discount,
        net_revenue,
        cost_of_goods,
        gross_margin,
        loaded_at

    from lines_with_margin

)

select * from final
