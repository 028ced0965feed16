-- One row per web session of the funnel: the stages it reached, its week (the
-- Monday of the UTC week of its first event) and where it came from.
with

funnel_events as (

    select * from {{ ref('stg_crm__funnel_events') }}

),

web_sessions as (

    select * from {{ ref('stg_marketing__web_sessions') }}

),

sessions_summarised as (

    select
        session_id,
        min(occurred_at) as first_event_at,
        max(customer_id) as customer_id,
        max(order_id) as order_id,
        bool_or(event_type = 'visit') as reached_visit,
        bool_or(event_type = 'product_view') as reached_product_view,
        bool_or(event_type = 'cart') as reached_cart,
        bool_or(event_type = 'checkout') as reached_checkout,
        bool_or(event_type = 'purchase') as reached_purchase

    from funnel_events
    group by 1

),

sessions_joined as (

    select
        sessions_summarised.session_id,
        sessions_summarised.first_event_at,
        sessions_summarised.customer_id,
        sessions_summarised.order_id,
        web_sessions.traffic_source,
        web_sessions.device_type,
        sessions_summarised.reached_visit,
        sessions_summarised.reached_product_view,
        sessions_summarised.reached_cart,
        sessions_summarised.reached_checkout,
        sessions_summarised.reached_purchase,
        cast(
            date_trunc(
                'week', sessions_summarised.first_event_at at time zone 'UTC'
            ) as date
        ) as session_week

    from sessions_summarised
    left join web_sessions
        on sessions_summarised.session_id = web_sessions.session_id

)

select * from sessions_joined
