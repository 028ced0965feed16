with

source as (

    select * from {{ source('crm', 'support_tickets') }}

),

renamed as (

    select
        ticket_id,
        customer_id,
        order_id,
        agent_id,
        opened_at,
        closed_at,
        channel as contact_channel,
        topic,
        priority,
        status as ticket_status,
        satisfaction as satisfaction_score,
        updated_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
