{{
    config(
        materialized='incremental',
        unique_key=['snapshot_date', 'product_id', 'warehouse_id'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['snapshot_date', 'product_id', 'warehouse_id'],
             'unique': true},
            {'columns': ['snapshot_month']},
        ],
    )
}}

-- One row per week, product and warehouse: the stock counted at the end of
-- the week. Incremental: a run takes the snapshots loaded since the last
-- run, and those of a late-arrival window before it, so that rows loaded
-- while the last run was reading are not missed.
with

inventory_snapshots as (

    select * from {{ ref('stg_supply__inventory_snapshots') }}

    {% if is_incremental() %}
        where loaded_at >= (
            select
                max(this_model.loaded_at)
                - interval '{{ var("inventory_late_arrival_hours", 24) }} hours'
            from {{ this }} as this_model
        )
    {% endif %}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

snapshots_valued as (

    select
        inventory_snapshots.snapshot_date,
        inventory_snapshots.product_id,
        inventory_snapshots.warehouse_id,
        products.supplier_id,
        inventory_snapshots.units_on_hand,
        inventory_snapshots.units_on_order,
        inventory_snapshots.units_short,
        inventory_snapshots.loaded_at,
        cast(
            date_trunc('month', inventory_snapshots.snapshot_date) as date
        ) as snapshot_month,
        inventory_snapshots.snapshot_date
        || '|' || inventory_snapshots.product_id
        || '|' || inventory_snapshots.warehouse_id as inventory_snapshot_id,
        inventory_snapshots.units_short > 0 as is_stocked_out,
        inventory_snapshots.units_on_hand * products.unit_cost
            as stock_value_at_cost

    from inventory_snapshots
    left join products
        on inventory_snapshots.product_id = products.product_id

)

select * from snapshots_valued
