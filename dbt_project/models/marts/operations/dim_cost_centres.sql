-- One row per cost centre: its name and the department it belongs to.
with

cost_centres as (

    select * from {{ ref('stg_backoffice__cost_centres') }}

),

cost_centres_described as (

    select
        cost_centre_id,
        cost_centre_name,
        department

    from cost_centres

)

select * from cost_centres_described
