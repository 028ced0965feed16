with

source as (

    select * from {{ source('shop', 'sales_reps') }}

),

renamed as (

    select
        sales_rep_id,
        employee_id,
        team_id,
        name as sales_rep_name,
        updated_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
