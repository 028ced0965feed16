-- One row per day: the time spine MetricFlow joins metrics to (cumulative
-- metrics, periods without data). It spans the sample company's history and
-- the years a forecast reaches; widen it for older data or longer horizons.
with

days as (

    select generate_series(
        cast('2015-01-01' as date), cast('2035-12-31' as date), interval '1 day'
    ) as day_start

),

time_spine as (

    select cast(day_start as date) as date_day
    from days

)

select * from time_spine
