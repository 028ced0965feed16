{{
    config(
        materialized='incremental',
        unique_key='order_month',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['order_month', 'team_id'], 'unique': True}],
    )
}}
-- One row per month and sales team: the business orders its reps booked that
-- month (not cancelled), the reps who sold, customers, revenue, gross margin.
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

sales_reps as (

    select * from {{ ref('dim_sales_reps') }}

),

team_orders as (

    select
        orders.order_month,
        orders.sales_rep_id,
        orders.customer_id,
        orders.revenue,
        orders.gross_margin,
        sales_reps.team_id,
        sales_reps.team_name,
        sales_reps.region_name

    from orders
    inner join sales_reps
        on orders.sales_rep_id = sales_reps.sales_rep_id
    where not orders.is_cancelled

),

team_months as (

    select
        order_month,
        team_id,
        team_name,
        region_name,
        count(distinct sales_rep_id) as selling_reps,
        count(*) as order_count,
        count(distinct customer_id) as customer_count,
        sum(revenue) as revenue,
        sum(gross_margin) as gross_margin

    from team_orders
    group by 1, 2, 3, 4

),

final as (

    select
        order_month,
        team_id,
        team_name,
        region_name,
        selling_reps,
        order_count,
        customer_count,
        cast(revenue as numeric(18, 2)) as revenue,
        cast(gross_margin as numeric(18, 2)) as gross_margin,
        cast(revenue / order_count as numeric(18, 2)) as average_order_value,
        cast(revenue / selling_reps as numeric(18, 2)) as revenue_per_rep

    from team_months

)

select * from final
