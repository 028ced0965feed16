with

source as (

    select * from {{ source('backoffice', 'timesheets') }}

),

renamed as (

    select
        employee_id,
        week_start,
        hours as hours_worked,
        output_units,
        output_kind,
        _loaded_at as loaded_at

    from source

)

select * from renamed
