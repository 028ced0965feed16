with

source as (

    select * from {{ source('shop', 'customers') }}

),

renamed as (

    select
        customer_id,
        first_name,
        last_name,
        email,
        country_code,
        segment as customer_segment,
        acquisition_channel,
        signup_date,
        account_manager_id,
        updated_at,
        _loaded_at as loaded_at,
        segment = 'business' as is_business

    from source

)

select * from renamed
