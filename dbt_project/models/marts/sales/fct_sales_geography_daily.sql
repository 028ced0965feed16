{{
    config(
        materialized='incremental',
        unique_key='order_date',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {
                'columns': ['order_date', 'country_code', 'sales_channel'],
                'unique': True,
            },
            {'columns': ['region_name']},
        ]
    )
}}
-- One row per day, country of the buying customer and sales channel, every
-- day from the first to the last day of orders for every country and channel
-- (zeros where nothing sold): orders not cancelled, customers, revenue, gross
-- margin, and the revenue of the same cell 52 weeks (364 days) earlier; sum
-- the rows of a region, a week or a channel for theirs. Countries and regions
-- as fct_sales_geography_monthly: customers the shop does not know fall in
-- country 'ZZ', region 'Unknown'. The dense grid makes a week's sum of
-- same_period_last_year_revenue the revenue of the same week a year earlier
-- even where a cell sold nothing this year.
-- Incremental by day: a run rebuilds the days from the first one fct_orders
-- re-read in its late-arrival window on; the 364 days before it are read back
-- from the table for the comparison.
{% if is_incremental() %}
    {% set first_day = first_changed_period(
        ref('fct_orders'), 'order_date', 'day'
    ) %}
{% endif %}
with

orders as not materialized (

    select * from {{ ref('fct_orders') }}

),

geography as (

    select * from {{ ref('dim_geography') }}

),

time_spine as (

    select * from {{ ref('metricflow_time_spine') }}

),

{% if is_incremental() %}

    built_days as (

        select * from {{ this }}

    ),

{% endif %}

order_days as (

    select
        min(order_date) as first_day,
        max(order_date) as last_day

    from orders

),

days as (

    select time_spine.date_day as order_date

    from time_spine
    inner join order_days
        on
            time_spine.date_day between order_days.first_day
            and order_days.last_day
    {% if is_incremental() %}
        where time_spine.date_day >= {{ first_day }}
    {% endif %}

),

grid_countries as (

    select country_code from geography

    union all

    select 'ZZ' as country_code

),

sales_channels as (

    select 'sales_team' as sales_channel

    union all

    select 'web' as sales_channel

),

revenue_orders as (

    select * from orders
    where
        not is_cancelled
        {% if is_incremental() %}
            and order_date >= {{ first_day }}
        {% endif %}

),

cell_revenue as (

    select
        order_date,
        sales_channel,
        coalesce(country_code, 'ZZ') as country_code,
        count(*) as order_count,
        count(distinct customer_id) as customer_count,
        sum(revenue) as revenue,
        sum(gross_margin) as gross_margin

    from revenue_orders
    group by 1, 2, 3

),

grid as (

    select
        days.order_date,
        grid_countries.country_code,
        sales_channels.sales_channel

    from days
    cross join grid_countries
    cross join sales_channels

),

every_cell as (

    -- a full join: a country the grid lacks keeps its revenue
    select
        coalesce(grid.order_date, cell_revenue.order_date) as order_date,
        coalesce(grid.country_code, cell_revenue.country_code) as country_code,
        coalesce(grid.sales_channel, cell_revenue.sales_channel)
            as sales_channel,
        coalesce(cell_revenue.order_count, 0) as order_count,
        coalesce(cell_revenue.customer_count, 0) as customer_count,
        coalesce(cell_revenue.revenue, 0) as revenue,
        coalesce(cell_revenue.gross_margin, 0) as gross_margin

    from grid
    full outer join cell_revenue
        on
            grid.order_date = cell_revenue.order_date
            and grid.country_code = cell_revenue.country_code
            and grid.sales_channel = cell_revenue.sales_channel

    {% if is_incremental() %}

        union all

        -- the year before the days rebuilt, as the table holds it
        select
            built_days.order_date,
            built_days.country_code,
            built_days.sales_channel,
            built_days.order_count,
            built_days.customer_count,
            built_days.revenue,
            built_days.gross_margin

        from built_days
        where
            built_days.order_date >= {{ first_day }} - 364
            and built_days.order_date < {{ first_day }}

    {% endif %}

),

compared as (

    select
        every_cell.order_date,
        every_cell.country_code,
        every_cell.sales_channel,
        every_cell.order_count,
        every_cell.customer_count,
        every_cell.revenue,
        every_cell.gross_margin,
        same_cell_last_year.revenue as same_period_last_year_revenue

    from every_cell
    left join every_cell as same_cell_last_year
        on
            every_cell.order_date - 364 = same_cell_last_year.order_date
            and every_cell.country_code = same_cell_last_year.country_code
            and every_cell.sales_channel = same_cell_last_year.sales_channel

    {% if is_incremental() %}

        where every_cell.order_date >= {{ first_day }}

    {% endif %}

),

final as (

    select
        compared.order_date,
        compared.country_code,
        compared.sales_channel,
        geography.region_id,
        compared.order_count,
        compared.customer_count,
        cast(compared.revenue as numeric(18, 2)) as revenue,
        cast(compared.gross_margin as numeric(18, 2)) as gross_margin,
        cast(compared.same_period_last_year_revenue as numeric(18, 2))
            as same_period_last_year_revenue,
        coalesce(geography.country_name, 'Unknown') as country_name,
        coalesce(geography.region_name, 'Unknown') as region_name

    from compared
    left join geography
        on compared.country_code = geography.country_code

)

select * from final
