{{
    config(
        indexes=[
            {'columns': ['inventory_month', 'product_id', 'warehouse_id'],
             'unique': true},
            {'columns': ['warehouse_id', 'inventory_month']},
        ],
    )
}}

-- One row per product, warehouse and month: average and closing stock from
-- the weekly snapshots, the units sold, turnover, days of inventory and
-- stock-outs.
with

inventory_snapshots as (

    select * from {{ ref('fct_inventory_snapshots') }}

),

units_sold as (

    select * from {{ ref('int_product_units_sold_monthly') }}

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
