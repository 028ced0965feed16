with

source as (

    select * from {{ source('shop', 'shop_orders') }}

),

renamed as (

    select
        order_id,
        customer_id,
        ordered_at,
        -- days are counted in UTC, the shop's reporting zone
        cast(ordered_at at time zone 'UTC' as date) as order_date,
        status as order_status,
        amount as order_amount,
        _loaded_at as loaded_at

    from source

)

select * from renamed
