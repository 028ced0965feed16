-- One row per employee: the cost centre and department they work for, their
-- job and pay.
with

employees as (

    select * from {{ ref('stg_backoffice__employees') }}

),

cost_centres as (

    select * from {{ ref('stg_backoffice__cost_centres') }}

),

employees_described as (

    select
        employees.employee_id,
        employees.cost_centre_id,
        cost_centres.cost_centre_name,
        cost_centres.department,
        employees.job_title,
        employees.hourly_rate,
        employees.hired_on,
        employees.left_on,
        employees.first_name || ' ' || employees.last_name as employee_name,
        employees.left_on is null as is_employed

    from employees
    left join cost_centres
        on employees.cost_centre_id = cost_centres.cost_centre_id

)

select * from employees_described
