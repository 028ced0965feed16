{{
    config(
        materialized='incremental',
        unique_key='event_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['event_id'], 'unique': True},
            {'columns': ['event_date']},
            {'columns': ['loaded_at']},
        ],
    )
}}
-- One row per funnel event (a step of a web session), with the session's
-- traffic source and device. Incremental on the loader's write time, with a
-- three-day window for late rows (a constant read at compile time, so that the
-- raw table's index on it serves the read), merged on event_id.
with

funnel_events as (

    select * from {{ ref('stg_crm__funnel_events') }}

    {% if is_incremental() %}

        where loaded_at >= {{ late_arrival_since(this) }}

    {% endif %}

),

web_sessions as (

    select * from {{ ref('stg_marketing__web_sessions') }}

    {% if is_incremental() %}

        -- the sessions of the events read, by their key's index (an array:
        -- see macros/incremental.sql), not a join with all the sessions
        where
            session_id = any(array(
                select distinct funnel_events.session_id from funnel_events
            ))

    {% endif %}

),

events_joined as (

    select
        funnel_events.event_id,
        funnel_events.session_id,
        funnel_events.customer_id,
        funnel_events.event_type,
        funnel_events.occurred_at,
        funnel_events.product_id,
        funnel_events.order_id,
        web_sessions.traffic_source,
        web_sessions.device_type,
        funnel_events.loaded_at,
        cast(funnel_events.occurred_at at time zone 'UTC' as date)
            as event_date,
        case funnel_events.event_type
            when 'visit' then 1
            when 'product_view' then 2
            when 'cart' then 3
            when 'checkout' then 4
            when 'purchase' then 5
        end as stage_number

    from funnel_events
    left join web_sessions
        on funnel_events.session_id = web_sessions.session_id

)

select * from events_joined
