{{
    config(
        indexes=[
            {'columns': ['income_month'], 'unique': true},
        ],
    )
}}

-- One row per month: the income statement from the general ledger (revenue,
-- cost of goods sold, gross margin, operating expenses, operating income),
-- its ratios, cost per order, year to date, and the same figures a month and
-- a year before.
with

general_ledger as (

    select * from {{ ref('int_general_ledger_classified') }}

),

sales_revenue_monthly as (

    -- its order count (orders not cancelled, by order month) is the one the
    -- sales dashboards show; a month's figure, not the 10 million orders again
    select * from {{ ref('fct_sales_revenue_monthly') }}

),

time_spine as (

    select * from {{ ref('metricflow_time_spine') }}

),

ledger_months as (

    select
        posted_month as income_month,
        sum(amount) filter (
            where account_code = '4000'
        ) as sales_revenue,
        sum(amount) filter (
            where account_code = '4100'
        ) as shipping_income,
        sum(amount) filter (
            where account_class = 'sales_returns'
        ) as sales_returns,
        sum(amount) filter (
            where account_class = 'cost_of_goods_sold'
        ) as cost_of_goods_sold,
        sum(amount) filter (
            where account_code = '6100'
        ) as salaries,
        sum(amount) filter (
            where account_code = '6200'
        ) as rent,
        sum(amount) filter (
            where account_code = '6300'
        ) as utilities,
        sum(amount) filter (
            where account_code = '6400'
        ) as marketing,
        sum(amount) filter (
            where account_code = '6500'
        ) as software,
        sum(amount) filter (
            where account_code = '6600'
        ) as carriers_and_packaging,
        sum(amount) filter (
            where account_class = 'operating_expense'
        ) as operating_expenses

    from general_ledger
    where financial_statement = 'income_statement'
    group by 1

),

ledger_span as (

    select
        min(income_month) as first_month,
        max(income_month) as last_month

    from ledger_months

),

calendar_months as (

    -- every month from the ledger's first to its last, so that a month
    -- without postings shows zeros and "a month before" is always the
    -- previous calendar month
    select distinct
        cast(
            date_trunc('month', time_spine.date_day) as date
        ) as income_month

    from time_spine
    inner join ledger_span
        on
            time_spine.date_day >= ledger_span.first_month
            and time_spine.date_day <= ledger_span.last_month

),

monthly_orders as (

    select
        period_start as income_month,
        order_count

    from sales_revenue_monthly

),

income_statement as (

    select
        calendar_months.income_month,
        coalesce(ledger_months.sales_revenue, 0) as sales_revenue,
        coalesce(ledger_months.shipping_income, 0) as shipping_income,
        coalesce(ledger_months.sales_returns, 0) as sales_returns,
        coalesce(ledger_months.cost_of_goods_sold, 0) as cost_of_goods_sold,
        coalesce(ledger_months.salaries, 0) as salaries,
        coalesce(ledger_months.rent, 0) as rent,
        coalesce(ledger_months.utilities, 0) as utilities,
        coalesce(ledger_months.marketing, 0) as marketing,
        coalesce(ledger_months.software, 0) as software,
        coalesce(
            ledger_months.carriers_and_packaging, 0
        ) as carriers_and_packaging,
        coalesce(ledger_months.operating_expenses, 0) as operating_expenses,
        coalesce(monthly_orders.order_count, 0) as order_count

    from calendar_months
    left join ledger_months
        on calendar_months.income_month = ledger_months.income_month
    left join monthly_orders
        on calendar_months.income_month = monthly_orders.income_month

),

margins as (

    -- net revenue: sales and shipping income less the refunds of returns
    select
        *,
        sales_revenue + shipping_income - sales_returns as net_revenue,
        sales_revenue + shipping_income - sales_returns
        - cost_of_goods_sold as gross_margin,
        sales_revenue + shipping_income - sales_returns
        - cost_of_goods_sold - operating_expenses as operating_income

    from income_statement

),

ratios as (

    select
        *,
        gross_margin / nullif(net_revenue, 0) as gross_margin_pct,
        operating_income / nullif(net_revenue, 0) as operating_margin_pct,
        operating_expenses / nullif(net_revenue, 0) as opex_ratio,
        (cost_of_goods_sold + operating_expenses)
        / nullif(order_count, 0) as cost_per_order,
        operating_expenses / nullif(order_count, 0)
            as operating_expenses_per_order,
        sum(net_revenue) over (
            partition by date_trunc('year', income_month)
            order by income_month
        ) as net_revenue_year_to_date

    from margins

),

compared as (

    -- the earlier months by their date: a year before the first year of the
    -- ledger has no figures, and stays empty rather than zero
    select
        ratios.*,
        previous_month.net_revenue as net_revenue_previous_month,
        last_year.net_revenue as net_revenue_same_month_last_year,
        previous_month.gross_margin as gross_margin_previous_month,
        last_year.gross_margin as gross_margin_same_month_last_year,
        previous_month.operating_income as operating_income_previous_month,
        last_year.operating_income as operating_income_same_month_last_year,
        ratios.net_revenue / nullif(previous_month.net_revenue, 0)
        - 1 as net_revenue_growth_month_over_month,
        ratios.net_revenue / nullif(last_year.net_revenue, 0)
        - 1 as net_revenue_growth_year_over_year

    from ratios
    left join ratios as previous_month
        on
            previous_month.income_month
            = ratios.income_month - interval '1 month'
    left join ratios as last_year
        on
            last_year.income_month
            = ratios.income_month - interval '1 year'

),

income_statement_monthly as (

    -- the mart's types: amounts in EUR to the cent, ratios to 4 places
    select
        income_month,
        order_count,
        cast(sales_revenue as numeric(18, 2)) as sales_revenue,
        cast(shipping_income as numeric(18, 2)) as shipping_income,
        cast(sales_returns as numeric(18, 2)) as sales_returns,
        cast(net_revenue as numeric(18, 2)) as net_revenue,
        cast(cost_of_goods_sold as numeric(18, 2)) as cost_of_goods_sold,
        cast(gross_margin as numeric(18, 2)) as gross_margin,
        cast(salaries as numeric(18, 2)) as salaries,
        cast(rent as numeric(18, 2)) as rent,
        cast(utilities as numeric(18, 2)) as utilities,
        cast(marketing as numeric(18, 2)) as marketing,
        cast(software as numeric(18, 2)) as software,
        cast(
            carriers_and_packaging as numeric(18, 2)
        ) as carriers_and_packaging,
        cast(operating_expenses as numeric(18, 2)) as operating_expenses,
        cast(operating_income as numeric(18, 2)) as operating_income,
        cast(cost_per_order as numeric(18, 2)) as cost_per_order,
        cast(
            operating_expenses_per_order as numeric(18, 2)
        ) as operating_expenses_per_order,
        cast(
            net_revenue_year_to_date as numeric(18, 2)
        ) as net_revenue_year_to_date,
        cast(
            net_revenue_previous_month as numeric(18, 2)
        ) as net_revenue_previous_month,
        cast(
            net_revenue_same_month_last_year as numeric(18, 2)
        ) as net_revenue_same_month_last_year,
        cast(
            gross_margin_previous_month as numeric(18, 2)
        ) as gross_margin_previous_month,
        cast(
            gross_margin_same_month_last_year as numeric(18, 2)
        ) as gross_margin_same_month_last_year,
        cast(
            operating_income_previous_month as numeric(18, 2)
        ) as operating_income_previous_month,
        cast(
            operating_income_same_month_last_year as numeric(18, 2)
        ) as operating_income_same_month_last_year,
        cast(gross_margin_pct as numeric(18, 4)) as gross_margin_pct,
        cast(operating_margin_pct as numeric(18, 4)) as operating_margin_pct,
        cast(opex_ratio as numeric(18, 4)) as opex_ratio,
        cast(
            net_revenue_growth_month_over_month as numeric(18, 4)
        ) as net_revenue_growth_month_over_month,
        cast(
            net_revenue_growth_year_over_year as numeric(18, 4)
        ) as net_revenue_growth_year_over_year

    from compared

)

select * from income_statement_monthly
