with

source as (

    select * from {{ source('shop', 'products') }}

),

renamed as (

    select
        product_id,
        sku,
        name as product_name,
        category_id,
        supplier_id,
        unit_cost,
        list_price,
        launched_on,
        discontinued_on,
        updated_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
