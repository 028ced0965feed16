with

source as (

    select * from {{ source('shop', 'purchase_order_lines') }}

),

renamed as (

    select
        purchase_order_id,
        product_id,
        quantity as quantity_ordered,
        unit_cost,
        updated_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
