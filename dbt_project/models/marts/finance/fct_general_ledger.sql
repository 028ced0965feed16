{{
    config(
        materialized='incremental',
        unique_key='entry_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['entry_id'], 'unique': true},
            {'columns': ['posted_month', 'account_class']},
        ],
    )
}}

-- One row per general ledger posting line, classified for the income
-- statement and signed as its account reads. Incremental: a run takes the
-- lines loaded since the last run, and a late-arrival window before it.
with

general_ledger as (

    select * from {{ ref('int_general_ledger_classified') }}

    {% if is_incremental() %}
        where loaded_at >= (
            select
                max(this_model.loaded_at)
                - interval '{{ var("ledger_late_arrival_hours", 24) }} hours'
            from {{ this }} as this_model
        )
    {% endif %}

),

ledger_lines as (

    select
        entry_id,
        journal_id,
        posted_on,
        posted_month,
        account_code,
        account_name,
        account_class,
        financial_statement,
        cost_centre_id,
        posting_source,
        debit_amount,
        credit_amount,
        amount,
        loaded_at

    from general_ledger

)

select * from ledger_lines
