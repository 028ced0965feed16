{{
    config(
        indexes=[
            {'columns': ['week_start', 'department'], 'unique': true},
        ],
    )
}}

-- One row per department and week: headcount, hours, output, output per hour
-- and labour cost per hour.
with

timesheets as (

    select * from {{ ref('int_timesheets_costed') }}

),

department_weeks as (

    -- each department measures one kind of output (warehouses units
    -- shipped, support tickets closed, sales orders booked) or none
    select
        week_start,
        coalesce(department, 'unknown') as department,
        max(output_kind) as output_kind,
        count(*) as employee_count,
        sum(hours_worked) as hours_worked,
        sum(output_units) as output_units,
        sum(labour_cost) as labour_cost,
        sum(hours_worked) filter (
            where labour_cost is not null
        ) as costed_hours_worked

    from timesheets
    group by 1, 2

),

department_productivity as (

    select
        week_start,
        department,
        output_kind,
        employee_count,
        hours_worked,
        output_units,
        labour_cost,
        week_start || '|' || department as department_week_id,
        round(output_units / nullif(hours_worked, 0), 4) as output_per_hour,
        round(labour_cost / nullif(costed_hours_worked, 0), 4)
            as labour_cost_per_hour

    from department_weeks

)

select * from department_productivity
