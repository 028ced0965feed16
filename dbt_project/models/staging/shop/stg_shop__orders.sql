with

source as (

    select * from {{ source('shop', 'orders') }}

),

renamed as (

    select
        order_id,
        customer_id,
        sales_rep_id,
        warehouse_id,
        ordered_at,
        status as order_status,
        delivered_on,
        subtotal,
        discount,
        shipping_fee,
        total as order_total,
        updated_at,
        _loaded_at as loaded_at,
        cast(ordered_at at time zone 'UTC' as date) as order_date,
        status = 'cancelled' as is_cancelled

    from source

)

select * from renamed
