-- One row per sales rep (account manager), with the team and its region.
with

sales_reps as (

    select * from {{ ref('stg_shop__sales_reps') }}

),

sales_teams as (

    select * from {{ ref('stg_shop__sales_teams') }}

),

regions as (

    select * from {{ ref('stg_shop__regions') }}

),

reps_joined as (

    select
        sales_reps.sales_rep_id,
        sales_reps.sales_rep_name,
        sales_reps.employee_id,
        sales_reps.team_id,
        sales_teams.team_name,
        sales_teams.region_id,
        regions.region_name

    from sales_reps
    inner join sales_teams
        on sales_reps.team_id = sales_teams.team_id
    inner join regions
        on sales_teams.region_id = regions.region_id

)

select * from reps_joined
