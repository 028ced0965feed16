with

source as (

    select * from {{ source('backoffice', 'employees') }}

),

renamed as (

    select
        employee_id,
        first_name,
        last_name,
        cost_centre_id,
        job_title,
        hourly_rate,
        hired_on,
        left_on,
        _loaded_at as loaded_at

    from source

)

select * from renamed
