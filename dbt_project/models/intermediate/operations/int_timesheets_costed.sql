-- Each timesheet week with the employee's cost centre, department and pay:
-- the labour cost of the week at the employee's hourly rate.
with

timesheets as (

    select * from {{ ref('stg_backoffice__timesheets') }}

),

employees as (

    select * from {{ ref('stg_backoffice__employees') }}

),

cost_centres as (

    select * from {{ ref('stg_backoffice__cost_centres') }}

),

timesheets_costed as (

    -- a left join: HR rows the loader quarantined leave weeks whose
    -- employee, cost centre and rate are unknown; their hours still count
    select
        timesheets.employee_id,
        timesheets.week_start,
        employees.cost_centre_id,
        cost_centres.department,
        timesheets.hours_worked,
        timesheets.output_units,
        timesheets.output_kind,
        employees.hourly_rate,
        timesheets.hours_worked * employees.hourly_rate as labour_cost

    from timesheets
    left join employees
        on timesheets.employee_id = employees.employee_id
    left join cost_centres
        on employees.cost_centre_id = cost_centres.cost_centre_id

)

select * from timesheets_costed
