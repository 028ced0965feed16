with

source as (

    select * from {{ source('shop', 'categories') }}

),

renamed as (

    select
        category_id,
        name as category_name,
        updated_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
