{{
    config(
        materialized='incremental',
        unique_key='sales_month',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['sales_month', 'product_id', 'warehouse_id'],
             'unique': true},
        ],
    )
}}
-- Units sold and their cost per product, warehouse and month: the outflow of
-- stock that inventory turnover divides by the average stock on hand. A table
-- rebuilt by month: an incremental run rebuilds the months from the first one
-- fct_order_lines re-read in its late-arrival window on.
with

order_lines as (

    select * from {{ ref('fct_order_lines') }}
    where
        not is_cancelled
        {% if is_incremental() %}
            and order_date
            >= {{ first_changed_period(ref('fct_order_lines'), 'order_date') }}
        {% endif %}

),

orders as (

    select * from {{ ref('fct_orders') }}
    where
        not is_cancelled
        {% if is_incremental() %}
            and order_date
            >= {{ first_changed_period(ref('fct_order_lines'), 'order_date') }}
        {% endif %}

),

units_sold as (

    -- cancelled orders never leave the warehouse; delivered and shipping
    -- orders both took their units out of stock
    select
        orders.order_month as sales_month,
        order_lines.product_id,
        orders.warehouse_id,
        sum(order_lines.quantity) as units_sold,
        sum(order_lines.cost_of_goods) as cost_of_units_sold

    from order_lines
    inner join orders
        on order_lines.order_id = orders.order_id
    group by 1, 2, 3

)

select * from units_sold
