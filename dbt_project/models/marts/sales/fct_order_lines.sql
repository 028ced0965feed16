{{
    config(
        materialized='incremental',
        unique_key='order_line_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['order_line_id'], 'unique': True},
            {'columns': ['order_date']},
            {'columns': ['loaded_at']},
        ],
    )
}}
-- One row per order line, with its share of the order's revenue, cost and
-- margin. Incremental: a run re-reads the lines whose line or order the loader
-- wrote since three days before the newest load already here, so late and
-- changed rows (a cancellation) are merged on order_line_id.
with

order_lines as (

    select * from {{ ref('int_order_lines_joined') }}

    {% if is_incremental() %}

        where loaded_at >= (
            select max(this_model.loaded_at) - interval '3 days' as since
            from {{ this }} as this_model
        )

    {% endif %}

),

final as (

    select
        order_line_id,
        order_id,
        line_number,
        product_id,
        category_id,
        customer_id,
        sales_rep_id,
        ordered_at,
        order_date,
        is_cancelled,
        quantity,
        is_valid_quantity,
        unit_price,
        unit_cost,
        line_discount,
        line_amount,
        allocated_discount,
        net_revenue,
        cost_of_goods,
        gross_margin,
        loaded_at

    from order_lines

)

select * from final
