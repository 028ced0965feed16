with

source as (

    select * from {{ source('marketing', 'marketing_spend') }}

),

renamed as (

    select
        spend_date,
        channel as marketing_channel,
        spend as spend_amount,
        impressions,
        clicks,
        _loaded_at as loaded_at

    from source

)

select * from renamed
