-- One row per supplier and month of delivery: on-time delivery, lead times,
-- and what the inspections of those deliveries found.
with

deliveries as (

    select * from {{ ref('fct_deliveries') }}

),

supplier_months as (

    select
        supplier_id,
        delivery_month,
        count(*) as delivery_count,
        count(*) filter (where is_on_time) as on_time_delivery_count,
        count(*) filter (where is_short_shipped) as short_shipment_count,
        sum(days_past_promise) as days_past_promise,
        max(days_late) as max_days_late,
        avg(days_late) as average_days_late,
        avg(lead_time_days) as average_lead_time_days,
        avg(promised_lead_time_days) as average_promised_lead_time_days,
        sum(quantity_ordered) as units_ordered,
        sum(quantity_received) as units_received,
        sum(quantity_accepted) as units_accepted,
        count(inspection_id) as inspection_count,
        count(*) filter (where has_passed) as passed_inspection_count,
        sum(sample_size) as units_inspected,
        sum(defect_count) as units_defective

    from deliveries
    group by 1, 2

),

supplier_performance as (

    select
        supplier_id,
        delivery_month,
        delivery_count,
        on_time_delivery_count,
        short_shipment_count,
        days_past_promise,
        max_days_late,
        units_ordered,
        units_received,
        units_accepted,
        inspection_count,
        passed_inspection_count,
        units_inspected,
        units_defective,
        round(average_days_late, 2) as average_days_late,
        round(average_lead_time_days, 2) as average_lead_time_days,
        round(average_promised_lead_time_days, 2)
            as average_promised_lead_time_days,
        round(on_time_delivery_count::numeric / delivery_count, 4)
            as on_time_rate,
        round(units_defective::numeric / nullif(units_inspected, 0), 4)
            as defect_rate,
        round(
            passed_inspection_count::numeric / nullif(inspection_count, 0), 4
        ) as inspection_pass_rate

    from supplier_months

)

select * from supplier_performance
