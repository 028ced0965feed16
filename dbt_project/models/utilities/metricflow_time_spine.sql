-- One row per day: the time spine MetricFlow joins metrics to (cumulative metrics,
-- periods without data). It spans the sample company's history and the years a
-- forecast reaches; widen it when your data is older or your horizon longer.
with

days as (

    {{ dbt.date_spine(
        datepart="day",
        start_date="cast('2015-01-01' as date)",
        end_date="cast('2036-01-01' as date)"
    ) }}

),

time_spine as (

    select cast(date_day as date) as date_day
    from days

)

select * from time_spine
