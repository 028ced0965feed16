-- One row per country the shop sells to, with its sales region and the
-- warehouse that serves the region.
with

countries as (

    select * from {{ ref('stg_shop__countries') }}

),

regions as (

    select * from {{ ref('stg_shop__regions') }}

),

geography as (

    select
        countries.country_code,
        countries.country_name,
        countries.region_id,
        regions.region_name,
        regions.warehouse_id

    from countries
    inner join regions
        on countries.region_id = regions.region_id

)

select * from geography
