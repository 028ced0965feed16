-- One row per supplier delivery: what was ordered, promised and received,
-- when, and what its inspection found.
with

deliveries as (

    select * from {{ ref('stg_supply__deliveries') }}

),

purchase_orders as (

    select * from {{ ref('stg_shop__purchase_orders') }}

),

purchase_order_lines as (

    select * from {{ ref('stg_shop__purchase_order_lines') }}

),

quality_inspections as (

    select * from {{ ref('stg_supply__quality_inspections') }}

),

deliveries_joined as (

    select
        deliveries.delivery_id,
        deliveries.purchase_order_id,
        purchase_orders.supplier_id,
        purchase_orders.warehouse_id,
        deliveries.product_id,
        purchase_orders.ordered_on,
        deliveries.promised_on,
        deliveries.delivered_on,
        deliveries.days_late,
        purchase_order_lines.quantity_ordered,
        deliveries.quantity_received,
        deliveries.is_valid_quantity,
        purchase_order_lines.unit_cost,
        quality_inspections.inspection_id,
        quality_inspections.inspected_on,
        quality_inspections.sample_size,
        quality_inspections.defect_count,
        quality_inspections.defect_type,
        quality_inspections.has_passed

    from deliveries
    inner join purchase_orders
        on deliveries.purchase_order_id = purchase_orders.purchase_order_id
    left join purchase_order_lines
        on
            deliveries.purchase_order_id
            = purchase_order_lines.purchase_order_id
            and deliveries.product_id = purchase_order_lines.product_id
    left join quality_inspections
        on deliveries.delivery_id = quality_inspections.delivery_id

),

delivery_facts as (

    select
        delivery_id,
        purchase_order_id,
        supplier_id,
        warehouse_id,
        product_id,
        ordered_on,
        promised_on,
        delivered_on,
        days_late,
        quantity_ordered,
        quantity_received,
        is_valid_quantity,
        unit_cost,
        inspection_id,
        inspected_on,
        sample_size,
        defect_count,
        defect_type,
        has_passed,
        cast(date_trunc('month', delivered_on) as date) as delivery_month,
        cast(
            quantity_received * unit_cost as numeric(18, 2)
        ) as received_value,
        delivered_on <= promised_on as is_on_time,
        greatest(days_late, 0) as days_past_promise,
        delivered_on - ordered_on as lead_time_days,
        promised_on - ordered_on as promised_lead_time_days,
        quantity_received < quantity_ordered as is_short_shipped,
        case
            when has_passed then quantity_received else 0
        end as quantity_accepted

    from deliveries_joined

)

select * from delivery_facts
