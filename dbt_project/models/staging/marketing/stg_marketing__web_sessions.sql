with

source as (

    select * from {{ source('marketing', 'web_sessions') }}

),

renamed as (

    select
        session_id,
        started_at,
        customer_id,
        traffic_source,
        device as device_type,
        country_code,
        pages_viewed,
        duration_seconds,
        _loaded_at as loaded_at

    from source

)

select * from renamed
