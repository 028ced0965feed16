with

source as (

    select * from {{ source('crm', 'nps_responses') }}

),

renamed as (

    select
        response_id,
        customer_id,
        order_id,
        responded_at,
        score as nps_score,
        updated_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
