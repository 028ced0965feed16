-- customer_id only: an index on a column of two (or seven) values would cost
-- seconds a day at millions of customers and serve no query a scan would not;
-- the dashboards read fct_customer_rfm_segments
{{ config(indexes=[{'columns': ['customer_id'], 'unique': True}]) }}
-- One row per customer with at least one order not cancelled: recency,
-- frequency and monetary value as of the last day of data (the newest order
-- day), each scored 1-5 by quintile (5 = most recent, most frequent, highest
-- revenue; ties broken by customer_id), and the segment the scores give.
with

orders as (

    select * from {{ ref('fct_orders') }}

),

customer_orders as (

    select * from {{ ref('int_customer_orders_summarised') }}

),

as_of as (

    select max(order_date) as as_of_date
    from orders

),

measured as (

    select
        customer_orders.customer_id,
        as_of.as_of_date,
        customer_orders.last_order_date,
        customer_orders.order_count as frequency,
        customer_orders.revenue as monetary,
        as_of.as_of_date - customer_orders.last_order_date as recency_days

    from customer_orders
    cross join as_of

),

scored as (

    select
        *,
        ntile(5) over (order by recency_days desc, customer_id asc)
            as recency_score,
        ntile(5) over (order by frequency asc, customer_id asc)
            as frequency_score,
        ntile(5) over (order by monetary asc, customer_id asc) as monetary_score

    from measured

),

segmented as (

    select
        customer_id,
        as_of_date,
        last_order_date,
        recency_days,
        frequency,
        cast(monetary as numeric(18, 2)) as monetary,
        recency_score,
        frequency_score,
        monetary_score,
        cast(recency_score as text)
        || cast(frequency_score as text)
        || cast(monetary_score as text)
            as rfm_score,
        case
            when
                recency_score >= 4 and frequency_score >= 4
                and monetary_score >= 4
                then 'champions'
            when recency_score >= 3 and frequency_score >= 4 then 'loyal'
            when recency_score >= 4 and frequency_score <= 2 then 'new'
            when recency_score <= 2 and frequency_score >= 3 then 'at_risk'
            when recency_score = 1 then 'lost'
            when recency_score = 2 then 'hibernating'
            else 'needs_attention'
        end as rfm_segment

    from scored

)

select * from segmented
