with

source as (

    select * from {{ source('shop', 'payments') }}

),

renamed as (

    select
        payment_id,
        order_id,
        paid_at,
        method as payment_method,
        amount as payment_amount,
        updated_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
