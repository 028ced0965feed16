with

source as (

    select * from {{ source('shop', 'returns') }}

),

renamed as (

    select
        return_id,
        order_id,
        line_number,
        returned_on,
        quantity as quantity_returned,
        refund_amount,
        reason as return_reason,
        resellable as is_resellable,
        updated_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
