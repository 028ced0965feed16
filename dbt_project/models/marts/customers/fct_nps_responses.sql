-- One row per NPS survey answer: the score, and whether it makes a promoter
-- (9-10), a passive (7-8) or a detractor (0-6).
with

nps_responses as (

    select * from {{ ref('stg_crm__nps_responses') }}

),

final as (

    select
        response_id,
        customer_id,
        order_id,
        responded_at,
        nps_score,
        cast(responded_at at time zone 'UTC' as date) as response_date,
        case
            when nps_score >= 9 then 'promoter'
            when nps_score >= 7 then 'passive'
            else 'detractor'
        end as nps_category,
        nps_score >= 9 as is_promoter,
        nps_score <= 6 as is_detractor

    from nps_responses

)

select * from final
