{{ config(indexes=[{'columns': ['month_start'], 'unique': True}]) }}
-- One row per month (UTC) with NPS answers or support tickets: NPS =
-- 100 * (promoters - detractors) / responses (promoters 9-10, detractors
-- 0-6); tickets opened and closed; the support satisfaction of tickets closed
-- that month (mean rating 1-5, and CSAT: the share of ratings of 4 or 5).
with

nps_responses as (

    select * from {{ ref('fct_nps_responses') }}

),

support_tickets as (

    select * from {{ ref('stg_crm__support_tickets') }}

),

nps_months as (

    select
        cast(date_trunc('month', response_date) as date) as month_start,
        count(*) as nps_responses,
        count(*) filter (where is_promoter) as promoters,
        count(*) filter (where nps_category = 'passive') as passives,
        count(*) filter (where is_detractor) as detractors

    from nps_responses
    group by 1

),

opened_months as (

    select
        cast(
            date_trunc('month', opened_at at time zone 'UTC') as date
        ) as month_start,
        count(*) as tickets_opened

    from support_tickets
    group by 1

),

closed_months as (

    select
        cast(
            date_trunc('month', closed_at at time zone 'UTC') as date
        ) as month_start,
        count(*) as tickets_closed,
        count(satisfaction_score) as satisfaction_ratings,
        avg(satisfaction_score) as average_satisfaction,
        count(*) filter (where satisfaction_score >= 4) as satisfied_ratings

    from support_tickets
    where closed_at is not null
    group by 1

),

months as (

    select month_start from nps_months
    union
    select month_start from opened_months
    union
    select month_start from closed_months

),

final as (

    select
        months.month_start,
        cast(
            100.0 * (nps_months.promoters - nps_months.detractors)
            / nullif(nps_months.nps_responses, 0) as numeric(5, 1)
        ) as nps,
        cast(closed_months.average_satisfaction as numeric(4, 2))
            as average_satisfaction,
        cast(
            100.0 * closed_months.satisfied_ratings
            / nullif(closed_months.satisfaction_ratings, 0)
            as numeric(5, 1)
        ) as csat_pct,
        coalesce(nps_months.nps_responses, 0) as nps_responses,
        coalesce(nps_months.promoters, 0) as promoters,
        coalesce(nps_months.passives, 0) as passives,
        coalesce(nps_months.detractors, 0) as detractors,
        coalesce(opened_months.tickets_opened, 0) as tickets_opened,
        coalesce(closed_months.tickets_closed, 0) as tickets_closed,
        coalesce(closed_months.satisfaction_ratings, 0)
            as satisfaction_ratings

    from months
    left join nps_months
        on months.month_start = nps_months.month_start
    left join opened_months
        on months.month_start = opened_months.month_start
    left join closed_months
        on months.month_start = closed_months.month_start

)

select * from final
