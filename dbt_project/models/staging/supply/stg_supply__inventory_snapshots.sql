with

source as (

    select * from {{ source('supply', 'inventory_snapshots') }}

),

renamed as (

    select
        snapshot_date,
        product_id,
        warehouse_id,
        on_hand as units_on_hand,
        on_order as units_on_order,
        units_short,
        _loaded_at as loaded_at

    from source

)

select * from renamed
