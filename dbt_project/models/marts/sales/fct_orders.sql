{{
    config(
        materialized='incremental',
        unique_key='order_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['order_id'], 'unique': True},
            {'columns': ['order_date']},
            {'columns': ['customer_id']},
            {'columns': ['loaded_at']},
        ],
    )
}}
-- depends_on: {{ ref('stg_shop__order_lines') }}
-- One row per order: who bought, where, through which channel and sales rep,
-- and what it earned (revenue = subtotal - discount of orders not cancelled,
-- cost of goods from its lines in fct_order_lines, gross margin; 0 if
-- cancelled). Incremental like fct_order_lines: a run re-reads the orders the
-- loader changed (the order, a line or its customer) since the newest load
-- here less the late-arrival window, and merges them on order_id.
with

{% if is_incremental() %}

    changed_orders as (

        {{ orders_changed_since(
            late_arrival_since(this), orders_by_customer=this
        ) }}

    ),

{% endif %}

orders as (

    select * from {{ ref('stg_shop__orders') }}

    {% if is_incremental() %}

        where order_id in (select changed_orders.order_id from changed_orders)

    {% endif %}

),

order_lines as (

    select * from {{ ref('fct_order_lines') }}

    {% if is_incremental() %}

        where order_id in (select changed_orders.order_id from changed_orders)

    {% endif %}

),

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

countries as (

    select * from {{ ref('stg_shop__countries') }}

),

sales_reps as (

    select * from {{ ref('stg_shop__sales_reps') }}

),

order_contents as (

    -- lines, units and the goods' purchase cost at the time of the order
    -- (0 for a cancelled order's lines), and the newest load of a line
    select
        order_id,
        count(*) as line_count,
        sum(quantity) as units,
        sum(cost_of_goods) as cost_of_goods,
        max(loaded_at) as loaded_at

    from order_lines
    group by 1

),

orders_joined as (

    select
        orders.order_id,
        orders.customer_id,
        orders.sales_rep_id,
        sales_reps.team_id,
        orders.warehouse_id,
        customers.country_code,
        countries.region_id,
        customers.acquisition_channel,
        customers.customer_segment,
        orders.ordered_at,
        orders.order_date,
        orders.order_status,
        orders.is_cancelled,
        orders.subtotal,
        orders.discount,
        orders.shipping_fee,
        orders.order_total,
        cast(date_trunc('month', orders.order_date) as date) as order_month,
        customers.customer_id is not null as is_known_customer,
        case
            when orders.sales_rep_id is not null then 'sales_team'
            else 'web'
        end as sales_channel,
        coalesce(order_contents.line_count, 0) as line_count,
        coalesce(order_contents.units, 0) as units,
        case
            when orders.is_cancelled then 0
            else orders.subtotal - orders.discount
        end as revenue,
        coalesce(order_contents.cost_of_goods, 0) as cost_of_goods,
        greatest(orders.loaded_at, order_contents.loaded_at) as loaded_at

    from orders
    left join order_contents
        on orders.order_id = order_contents.order_id
    left join customers
        on orders.customer_id = customers.customer_id
    left join countries
        on customers.country_code = countries.country_code
    left join sales_reps
        on orders.sales_rep_id = sales_reps.sales_rep_id

),

orders_with_margin as (

    select
        *,
        revenue - cost_of_goods as gross_margin

    from orders_joined

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
        order_month,
        loaded_at

    from orders_with_margin

)

select * from final
