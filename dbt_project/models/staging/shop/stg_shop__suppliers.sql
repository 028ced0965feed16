with

source as (

    select * from {{ source('shop', 'suppliers') }}

),

renamed as (

    select
        supplier_id,
        name as supplier_name,
        country_code as supplier_country_code,
        lead_time_days,
        updated_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
