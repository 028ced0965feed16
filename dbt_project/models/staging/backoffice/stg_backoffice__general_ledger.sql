with

source as (

    select * from {{ source('backoffice', 'general_ledger') }}

),

renamed as (

    select
        entry_id,
        journal_id,
        posted_on,
        account_code,
        account_name,
        cost_centre_id,
        debit as debit_amount,
        credit as credit_amount,
        source as posting_source,
        _loaded_at as loaded_at

    from source

)

select * from renamed
