{{
    config(
        materialized='incremental',
        unique_key='week_start',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {
                'columns': ['week_start', 'stage_number', 'region_name'],
                'unique': True,
            },
            {'columns': ['region_name']},
        ],
    )
}}
-- One row per week, funnel stage (visit, product_view, cart, checkout,
-- purchase) and sales region of the session's country: the web sessions of
-- the week (by their first event, UTC weeks from Monday) that reached the
-- stage, and the conversion from the previous stage and from the visit; sum
-- the regions' sessions for the week's (and divide the sums for its rates).
-- Sessions missing from web_sessions, or of a country without a region, fall
-- in region 'Unknown'. Incremental by week: a run rebuilds the weeks
-- from the first one fct_funnel_events re-read in its late-arrival window on,
-- from the events of those weeks and of the day before (a session that
-- started on the Sunday night belongs to the week before and is left out).
{% if is_incremental() %}
    {% set first_week = first_changed_period(
        ref('fct_funnel_events'), 'event_date', 'week'
    ) %}
{% endif %}
with

funnel_events as (

    select * from {{ ref('fct_funnel_events') }}

    {% if is_incremental() %}

        where event_date >= {{ first_week }} - 1

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

geography as (

    select * from {{ ref('dim_geography') }}

),

sessions_summarised as (

    -- one row per web session: when it started and the stages it reached
    select
        session_id,
        min(occurred_at) as first_event_at,
        bool_or(event_type = 'visit') as reached_visit,
        bool_or(event_type = 'product_view') as reached_product_view,
        bool_or(event_type = 'cart') as reached_cart,
        bool_or(event_type = 'checkout') as reached_checkout,
        bool_or(event_type = 'purchase') as reached_purchase

    from funnel_events
    group by 1

),

sessions as (

    select
        sessions_summarised.*,
        cast(
            date_trunc(
                'week', sessions_summarised.first_event_at at time zone 'UTC'
            ) as date
        ) as session_week,
        coalesce(geography.region_name, 'Unknown') as region_name

    from sessions_summarised
    left join web_sessions
        on sessions_summarised.session_id = web_sessions.session_id
    left join geography
        on web_sessions.country_code = geography.country_code

),

weekly as (

    select
        session_week as week_start,
        region_name,
        count(*) filter (where reached_visit) as visit,
        count(*) filter (where reached_product_view) as product_view,
        count(*) filter (where reached_cart) as cart,
        count(*) filter (where reached_checkout) as checkout,
        count(*) filter (where reached_purchase) as purchase

    from sessions
    {% if is_incremental() %}
        where session_week >= {{ first_week }}
    {% endif %}
    group by 1, 2

),

stages as (

    select
        week_start,
        region_name,
        1 as stage_number,
        'visit' as funnel_stage,
        visit as sessions,
        cast(null as bigint) as previous_stage_sessions,
        visit as visit_sessions
    from weekly

    union all

    select
        week_start,
        region_name,
        2 as stage_number,
        'product_view' as funnel_stage,
        product_view as sessions,
        visit as previous_stage_sessions,
        visit as visit_sessions
    from weekly

    union all

    select
        week_start,
        region_name,
        3 as stage_number,
        'cart' as funnel_stage,
        cart as sessions,
        product_view as previous_stage_sessions,
        visit as visit_sessions
    from weekly

    union all

    select
        week_start,
        region_name,
        4 as stage_number,
        'checkout' as funnel_stage,
        checkout as sessions,
        cart as previous_stage_sessions,
        visit as visit_sessions
    from weekly

    union all

    select
        week_start,
        region_name,
        5 as stage_number,
        'purchase' as funnel_stage,
        purchase as sessions,
        checkout as previous_stage_sessions,
        visit as visit_sessions
    from weekly

),

final as (

    select
        week_start,
        stage_number,
        region_name,
        funnel_stage,
        sessions,
        previous_stage_sessions,
        cast(
            1.0 * sessions / nullif(previous_stage_sessions, 0)
            as numeric(9, 4)
        ) as step_conversion_rate,
        cast(1.0 * sessions / nullif(visit_sessions, 0) as numeric(9, 4))
            as conversion_from_visit

    from stages

)

select * from final
