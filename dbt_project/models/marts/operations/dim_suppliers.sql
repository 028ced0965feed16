-- One row per supplier: who it is, the lead time it contracted, and its
-- record over all its deliveries.
with

suppliers as (

    select * from {{ ref('stg_shop__suppliers') }}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

deliveries as (

    select * from {{ ref('fct_deliveries') }}

),

supplier_products as (

    select
        supplier_id,
        count(*) as product_count

    from products
    group by 1

),

supplier_deliveries as (

    select
        supplier_id,
        min(delivered_on) as first_delivered_on,
        max(delivered_on) as last_delivered_on,
        count(*) as delivery_count,
        count(*) filter (where is_on_time) as on_time_delivery_count,
        avg(lead_time_days) as average_lead_time_days

    from deliveries
    group by 1

),

suppliers_described as (

    select
        suppliers.supplier_id,
        suppliers.supplier_name,
        suppliers.supplier_country_code,
        suppliers.lead_time_days as contracted_lead_time_days,
        supplier_deliveries.first_delivered_on,
        supplier_deliveries.last_delivered_on,
        coalesce(supplier_products.product_count, 0) as product_count,
        coalesce(supplier_deliveries.delivery_count, 0) as delivery_count,
        coalesce(
            supplier_deliveries.on_time_delivery_count, 0
        ) as on_time_delivery_count,
        round(
            supplier_deliveries.on_time_delivery_count::numeric
            / nullif(supplier_deliveries.delivery_count, 0),
            4
        ) as on_time_rate,
        round(supplier_deliveries.average_lead_time_days, 2)
            as average_lead_time_days

    from suppliers
    left join supplier_products
        on suppliers.supplier_id = supplier_products.supplier_id
    left join supplier_deliveries
        on suppliers.supplier_id = supplier_deliveries.supplier_id

)

select * from suppliers_described
