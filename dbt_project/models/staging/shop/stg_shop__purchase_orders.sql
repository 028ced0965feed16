with

source as (

    select * from {{ source('shop', 'purchase_orders') }}

),

renamed as (

    select
        purchase_order_id,
        supplier_id,
        warehouse_id,
        ordered_on,
        promised_on,
        updated_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
