with

source as (

    select * from {{ source('shop', 'regions') }}

),

renamed as (

    select
        region_id,
        name as region_name,
        warehouse_id,
        updated_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
