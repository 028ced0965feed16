-- One row per day and paid marketing channel: spend, impressions and clicks.
with

marketing_spend as (

    select * from {{ ref('stg_marketing__marketing_spend') }}

),

final as (

    select
        spend_date,
        marketing_channel,
        spend_amount,
        impressions,
        clicks,
        cast(spend_date as text) || '|' || marketing_channel
            as marketing_spend_id

    from marketing_spend

)

select * from final
