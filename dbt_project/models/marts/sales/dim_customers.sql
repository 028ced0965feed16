{{
    config(
        materialized='incremental',
        unique_key='customer_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['customer_id'], 'unique': True}],
    )
}}
-- depends_on: {{ ref('fct_orders') }}
-- One row per customer: who they are, where, how they came, and their orders
-- so far (orders not cancelled). Incremental by customer: a run rewrites the
-- customers the loader wrote and those of the orders fct_orders re-read, in
-- their late-arrival windows.
with

{% if is_incremental() %}

    changed_customers as (

        select customers_loaded.customer_id
        from {{ ref('stg_shop__customers') }} as customers_loaded
        where
            customers_loaded.loaded_at
            >= {{ late_arrival_since(ref('stg_shop__customers')) }}

        union

        select changed_orders.customer_id
        from {{ ref('fct_orders') }} as changed_orders
        where
            changed_orders.loaded_at
            >= {{ late_arrival_since(ref('fct_orders')) }}

    ),

{% endif %}

customers as (

    select * from {{ ref('stg_shop__customers') }}

    {% if is_incremental() %}

        where
            customer_id = any(array(
                select changed_customers.customer_id from changed_customers
            ))

    {% endif %}

),

countries as (

    select * from {{ ref('stg_shop__countries') }}

),

regions as (

    select * from {{ ref('stg_shop__regions') }}

),

customer_orders as (

    select * from {{ ref('int_customer_orders_summarised') }}

    {% if is_incremental() %}

        where
            customer_id = any(array(
                select changed_customers.customer_id from changed_customers
            ))

    {% endif %}

),

customers_joined as (

    -- no names or e-mail addresses: marts are what every dashboard role reads,
    -- and personal data stays in staging, which only engineers query
    select
        customers.customer_id,
        customers.country_code,
        countries.country_name,
        countries.region_id,
        regions.region_name,
        customers.customer_segment,
        customers.is_business,
        customers.acquisition_channel,
        customers.signup_date,
        customers.account_manager_id,
        customer_orders.first_order_date,
        customer_orders.last_order_date,
        cast(date_trunc('month', customers.signup_date) as date)
            as signup_month,
        coalesce(customer_orders.order_count, 0) as order_count,
        coalesce(customer_orders.revenue, 0) as lifetime_revenue

    from customers
    left join countries
        on customers.country_code = countries.country_code
    left join regions
        on countries.region_id = regions.region_id
    left join customer_orders
        on customers.customer_id = customer_orders.customer_id

)

select * from customers_joined
