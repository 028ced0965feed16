-- A table, not a view: the customer marts and int_customer_orders_summarised
-- all read it; a view re-aggregated every order line for each (bench-dbt).
{{ config(materialized='table') }}

-- Orders with their lines' cost and units, the customer's country and region
-- and the sales rep's team. revenue = subtotal - discount of orders not
-- cancelled (0 for cancelled ones), as fct_daily_revenue counts it.
with

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

order_lines as (

    select * from {{ ref('stg_shop__order_lines') }}

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

    -- units and the goods' purchase cost at the time of the order
    select
        order_id,
        count(*) as line_count,
        sum(quantity) as units,
        sum(quantity * unit_cost) as goods_cost

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
        orders.loaded_at,
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
        case
            when orders.is_cancelled then 0
            else coalesce(order_contents.goods_cost, 0)
        end as cost_of_goods

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

)

select * from orders_with_margin
