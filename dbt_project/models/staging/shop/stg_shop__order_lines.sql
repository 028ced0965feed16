with

source as (

    select * from {{ source('shop', 'order_lines') }}

),

renamed as (

    select
        order_id,
        line_number,
        product_id,
        quantity as source_quantity,
        unit_price,
        unit_cost,
        line_discount,
        amount as line_amount,
        updated_at,
        _loaded_at as loaded_at,
        abs(quantity) as quantity,
        coalesce(quantity > 0, false) as is_valid_quantity

    from source

)

select * from renamed
