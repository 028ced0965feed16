{{ config(indexes=[{'columns': ['rfm_segment'], 'unique': True}]) }}
-- One row per RFM segment: its customers and their revenue, recency and
-- frequency. What the Customer intelligence dashboard asks of RFM, answered
-- from seven rows rather than by counting every customer of fct_customer_rfm
-- (250 ms at 10 million orders, 4 million customers).
with

customer_rfm as (

    select * from {{ ref('fct_customer_rfm') }}

),

segments as (

    select
        rfm_segment,
        max(as_of_date) as as_of_date,
        count(*) as customer_count,
        sum(monetary) as monetary,
        avg(recency_days) as average_recency_days,
        avg(frequency) as average_frequency

    from customer_rfm
    group by 1

),

final as (

    select
        rfm_segment,
        as_of_date,
        customer_count,
        cast(monetary as numeric(18, 2)) as monetary,
        cast(average_recency_days as numeric(9, 1)) as average_recency_days,
        cast(average_frequency as numeric(9, 2)) as average_frequency

    from segments

)

select * from final
