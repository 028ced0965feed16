{{
    config(
        indexes=[
            {'columns': ['cost_month', 'cost_centre_id', 'cost_type'],
             'unique': true},
        ],
    )
}}

-- One row per month, cost centre and cost type: the operating cost, its
-- share of the month, and the same cost a month and a year before.
with

operating_costs as (

    select * from {{ ref('stg_backoffice__operating_costs') }}

),

cost_centres as (

    select * from {{ ref('stg_backoffice__cost_centres') }}

),

costs_described as (

    select
        operating_costs.cost_month,
        operating_costs.cost_centre_id,
        cost_centres.department,
        operating_costs.cost_type,
        operating_costs.cost_amount,
        operating_costs.cost_month
        || '|' || operating_costs.cost_centre_id
        || '|' || operating_costs.cost_type as operating_cost_id,
        sum(operating_costs.cost_amount) over (
            partition by operating_costs.cost_month
        ) as month_cost_amount

    from operating_costs
    left join cost_centres
        on operating_costs.cost_centre_id = cost_centres.cost_centre_id

),

costs_compared as (

    -- the earlier months by their date, not by their position: a cost
    -- missing in a month leaves its comparison empty rather than shifted
    select
        costs_described.cost_month,
        costs_described.cost_centre_id,
        costs_described.department,
        costs_described.cost_type,
        costs_described.cost_amount,
        costs_described.operating_cost_id,
        previous_month.cost_amount as previous_month_cost_amount,
        last_year.cost_amount as same_month_last_year_cost_amount,
        round(
            costs_described.cost_amount
            / nullif(costs_described.month_cost_amount, 0),
            4
        ) as share_of_month_cost

    from costs_described
    left join operating_costs as previous_month
        on
            costs_described.cost_centre_id = previous_month.cost_centre_id
            and costs_described.cost_type = previous_month.cost_type
            and previous_month.cost_month
            = costs_described.cost_month - interval '1 month'
    left join operating_costs as last_year
        on
            costs_described.cost_centre_id = last_year.cost_centre_id
            and costs_described.cost_type = last_year.cost_type
            and last_year.cost_month
            = costs_described.cost_month - interval '1 year'

)

select * from costs_compared
