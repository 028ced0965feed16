with

source as (

    select * from {{ source('supply', 'deliveries') }}

),

renamed as (

    select
        delivery_id,
        purchase_order_id,
        product_id,
        promised_on,
        delivered_on,
        quantity_received as source_quantity_received,
        _loaded_at as loaded_at,
        abs(quantity_received) as quantity_received,
        coalesce(quantity_received >= 0, false) as is_valid_quantity,
        delivered_on - promised_on as days_late

    from source

)

select * from renamed
