-- One row per supplier, product and month of delivery: the inspections of
-- the product's deliveries that month (defect rate, pass rate).
with

deliveries as (

    select * from {{ ref('fct_deliveries') }}

),

inspected_deliveries as (

    select * from deliveries
    where inspection_id is not null

),

product_months as (

    select
        supplier_id,
        product_id,
        delivery_month,
        count(*) as inspection_count,
        count(*) filter (where has_passed) as passed_inspection_count,
        sum(sample_size) as units_inspected,
        sum(defect_count) as units_defective,
        sum(quantity_received) as units_received,
        sum(quantity_received) filter (
            where not has_passed
        ) as units_rejected

    from inspected_deliveries
    group by 1, 2, 3

),

product_quality as (

    select
        supplier_id,
        product_id,
        delivery_month,
        inspection_count,
        passed_inspection_count,
        units_inspected,
        units_defective,
        units_received,
        coalesce(units_rejected, 0) as units_rejected,
        round(units_defective::numeric / nullif(units_inspected, 0), 4)
            as defect_rate,
        round(passed_inspection_count::numeric / inspection_count, 4)
            as inspection_pass_rate

    from product_months

)

select * from product_quality
