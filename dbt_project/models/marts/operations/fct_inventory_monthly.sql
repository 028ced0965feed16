{{
    config(
        materialized='incremental',
        unique_key='inventory_month',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['inventory_month', 'product_id', 'warehouse_id'],
             'unique': true},
            {'columns': ['warehouse_id', 'inventory_month']},
        ],
    )
}}

-- depends_on: {{ ref('fct_order_lines') }}
-- One row per product, warehouse and month: average and closing stock from
-- the weekly snapshots, the units sold, turnover, days of inventory and
-- stock-outs. Incremental by month: a run rebuilds the months from the first
-- one whose snapshots or order lines were re-read in the late-arrival window.
{% if is_incremental() %}
    {% set first_month -%}
        least(
            {{ first_changed_period(
                ref('fct_inventory_snapshots'), 'snapshot_month'
            ) }},
            {{ first_changed_period(ref('fct_order_lines'), 'order_date') }}
        )
    {%- endset %}
{% endif %}
with

inventory_snapshots as (

    select * from {{ ref('fct_inventory_snapshots') }}

    {% if is_incremental() %}

        where snapshot_month >= {{ first_month }}

    {% endif %}

),

units_sold as (

    select * from {{ ref('int_product_units_sold_monthly') }}

    {% if is_incremental() %}

        where sales_month >= {{ first_month }}

    {% endif %}

),

snapshots_ranked as (

    select
        *,
        row_number() over (
            partition by product_id, warehouse_id, snapshot_month
            order by snapshot_date desc
        ) as recency

    from inventory_snapshots

),

stock_monthly as (

    select
        snapshot_month as inventory_month,
        product_id,
        warehouse_id,
        max(supplier_id) as supplier_id,
        count(*) as snapshot_count,
        extract(
            day from snapshot_month + interval '1 month' - interval '1 day'
        ) as days_in_month,
        avg(units_on_hand) as average_units_on_hand,
        max(units_on_hand) filter (
            where recency = 1
        ) as closing_units_on_hand,
        max(stock_value_at_cost) filter (
            where recency = 1
        ) as closing_stock_value_at_cost,
        sum(units_short) as units_short,
        count(*) filter (where is_stocked_out) as stocked_out_weeks

    from snapshots_ranked
    group by 1, 2, 3

),

inventory_monthly as (

    -- turnover: units sold in the month over the average stock; days of
    -- inventory: how many days that average stock lasts at the month's
    -- rate of sales. Sales of products never counted in a warehouse are
    -- not here (orders that name an unknown product).
    select
        stock_monthly.inventory_month,
        stock_monthly.product_id,
        stock_monthly.warehouse_id,
        stock_monthly.supplier_id,
        stock_monthly.snapshot_count,
        stock_monthly.closing_units_on_hand,
        stock_monthly.closing_stock_value_at_cost,
        stock_monthly.units_short,
        stock_monthly.stocked_out_weeks,
        stock_monthly.days_in_month,
        cast(
            stock_monthly.average_units_on_hand as numeric(18, 2)
        ) as average_units_on_hand,
        cast(
            coalesce(units_sold.units_sold, 0)
            / nullif(stock_monthly.average_units_on_hand, 0) as numeric(18, 4)
        ) as inventory_turnover,
        cast(
            stock_monthly.average_units_on_hand
            * stock_monthly.days_in_month
            / nullif(units_sold.units_sold, 0) as numeric(18, 2)
        ) as days_of_inventory,
        coalesce(units_sold.units_sold, 0) as units_sold,
        coalesce(units_sold.cost_of_units_sold, 0) as cost_of_units_sold

    from stock_monthly
    left join units_sold
        on
            stock_monthly.inventory_month = units_sold.sales_month
            and stock_monthly.product_id = units_sold.product_id
            and stock_monthly.warehouse_id = units_sold.warehouse_id

)

select * from inventory_monthly
