{{
    config(
        materialized='incremental',
        unique_key='order_month',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['order_month', 'sales_rep_id'], 'unique': True},
            {'columns': ['team_id']},
            {'columns': ['region_name']},
        ]
    )
}}
-- One row per month and sales rep who booked business orders that month:
-- orders not cancelled, customers, revenue, gross margin and its rank in the
-- rep's team, with the region the team covers (what a regional manager's
-- row-level filter reads).
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

rep_orders as (

    select * from orders
    where not is_cancelled and sales_rep_id is not null

),

rep_months as (

    select
        order_month,
        sales_rep_id,
        count(*) as order_count,
        count(distinct customer_id) as customer_count,
        sum(revenue) as revenue,
        sum(gross_margin) as gross_margin

    from rep_orders
    group by 1, 2

),

final as (

    select
        rep_months.order_month,
        rep_months.sales_rep_id,
        sales_reps.sales_rep_name,
        sales_reps.team_id,
        sales_reps.team_name,
        rep_months.order_count,
        rep_months.customer_count,
        cast(rep_months.revenue as numeric(18, 2)) as revenue,
        cast(rep_months.gross_margin as numeric(18, 2)) as gross_margin,
        cast(rep_months.revenue / rep_months.order_count as numeric(18, 2))
            as average_order_value,
        rank() over (
            partition by rep_months.order_month, sales_reps.team_id
            order by rep_months.revenue desc
        ) as revenue_rank_in_team,
        coalesce(sales_reps.region_name, 'Unknown') as region_name

    from rep_months
    left join sales_reps
        on rep_months.sales_rep_id = sales_reps.sales_rep_id

)

select * from final
