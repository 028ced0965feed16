with

source as (

    select * from {{ source('supply', 'quality_inspections') }}

),

renamed as (

    select
        inspection_id,
        delivery_id,
        inspected_on,
        sample_size,
        defects as defect_count,
        defect_type,
        passed as has_passed,
        _loaded_at as loaded_at

    from source

)

select * from renamed
