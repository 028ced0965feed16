with

source as (

    select * from {{ source('backoffice', 'cost_centres') }}

),

renamed as (

    select
        cost_centre_id,
        name as cost_centre_name,
        department,
        _loaded_at as loaded_at

    from source

)

select * from renamed
