-- Each general ledger line with the income statement or balance sheet line
-- its account belongs to, and its amount signed the way that line reads.
with

general_ledger as (

    select * from {{ ref('stg_backoffice__general_ledger') }}

),

classified as (

    -- the chart of accounts: 1xxx assets, 2xxx liabilities, 4xxx revenue
    -- (4900 returns reduce it), 5xxx cost of goods sold, 6xxx operating
    -- expenses
    select
        *,
        case
            when account_code like '1%' then 'asset'
            when account_code like '2%' then 'liability'
            when account_code = '4900' then 'sales_returns'
            when account_code like '4%' then 'revenue'
            when account_code like '5%' then 'cost_of_goods_sold'
            when account_code like '6%' then 'operating_expense'
        end as account_class

    from general_ledger

),

signed as (

    -- amount: positive when the line adds to its account's natural
    -- balance (credits for revenue and liabilities, debits otherwise)
    select
        entry_id,
        journal_id,
        posted_on,
        account_code,
        account_name,
        account_class,
        cost_centre_id,
        posting_source,
        debit_amount,
        credit_amount,
        loaded_at,
        cast(date_trunc('month', posted_on) as date) as posted_month,
        cast(
            case
                when account_class in ('revenue', 'liability')
                    then credit_amount - debit_amount
                else debit_amount - credit_amount
            end as numeric(18, 2)
        ) as amount,
        case
            when account_class in ('asset', 'liability') then 'balance_sheet'
            else 'income_statement'
        end as financial_statement

    from classified

)

select * from signed
