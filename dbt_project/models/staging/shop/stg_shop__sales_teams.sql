with

source as (

    select * from {{ source('shop', 'sales_teams') }}

),

renamed as (

    select
        team_id,
        name as team_name,
        region_id,
        updated_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
