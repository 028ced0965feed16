{{
    config(
        indexes=[
            {'columns': ['employee_id', 'week_start'], 'unique': true},
            {'columns': ['department', 'week_start']},
        ],
    )
}}

-- One row per employee and week: hours, output, output per hour and the
-- labour cost of the week.
with

timesheets as (

    select * from {{ ref('int_timesheets_costed') }}

),

employee_weeks as (

    select
        employee_id,
        week_start,
        cost_centre_id,
        department,
        hours_worked,
        output_units,
        output_kind,
        hourly_rate,
        labour_cost,
        employee_id || '|' || week_start as employee_week_id,
        round(output_units / nullif(hours_worked, 0), 4) as output_per_hour,
        round(labour_cost / nullif(output_units, 0), 4)
            as labour_cost_per_output_unit

    from timesheets

)

select * from employee_weeks
