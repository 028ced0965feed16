with

source as (

    select * from {{ source('backoffice', 'operating_costs') }}

),

renamed as (

    select
        cost_month,
        cost_centre_id,
        cost_type,
        amount as cost_amount,
        _loaded_at as loaded_at

    from source

)

select * from renamed
