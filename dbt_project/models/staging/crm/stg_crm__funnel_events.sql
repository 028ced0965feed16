with

source as (

    select * from {{ source('crm', 'funnel_events') }}

),

renamed as (

    select
        event_id,
        session_id,
        customer_id,
        event_type,
        occurred_at,
        product_id,
        order_id,
        updated_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
