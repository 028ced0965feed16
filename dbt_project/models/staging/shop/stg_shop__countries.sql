with

source as (

    select * from {{ source('shop', 'countries') }}

),

renamed as (

    select
        country_code,
        name as country_name,
        region_id,
        updated_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
