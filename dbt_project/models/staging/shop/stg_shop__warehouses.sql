with

source as (

    select * from {{ source('shop', 'warehouses') }}

),

renamed as (

    select
        warehouse_id,
        name as warehouse_name,
        country_code,
        updated_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
