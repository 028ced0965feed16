{#- Incremental models re-read what the loader wrote since the newest load they
    already hold, less a late-arrival window (var late_arrival_days, 3 days by
    default): rows loaded while the last run was reading, and rows a source sent
    late, are merged again on the model's key.
    They filter a big table by the keys changed in that window (orders,
    customers, sessions) as `key = any(array(select ...))`, not
    `key in (select ...)`: PostgreSQL has no statistics for a CTE or a union,
    so it guesses the semi-join keeps a quarter of the table and scans all of
    it (fct_order_lines: 22 s at 10M orders, seq scans of 42M raw rows), where
    the array, computed first, is looked up in the key's index (0.45 s).
    fct_orders keeps the semi-join: the array's small row estimate led it to
    nested loops over its order contents (63 s). -#}

{#- The start of that window for `relation`: the newest `column` (the loader's
    write time) it holds, less the window. Read when the model is compiled, just
    before it runs, and written into its SQL as a constant, so that PostgreSQL
    plans an index scan on `column` rather than the scan a subquery's unknown
    value gets. Null (nothing to re-read) when the relation is empty; -infinity
    (everything) when it has no such column yet. -#}
{% macro late_arrival_since(relation, column='loaded_at') -%}
    {%- set newest = none -%}
    {%- set has_column = true -%}
    {%- if execute -%}
        {%- set has_column = column in (
            adapter.get_columns_in_relation(relation) | map(attribute='name')
            | list
        ) -%}
        {%- if has_column -%}
            {%- set newest = run_query(
                "select max(" ~ column ~ ") from " ~ relation
            ).columns[0].values()[0] -%}
        {%- endif -%}
    {%- endif -%}
    {%- if not has_column -%}
        {#- a table built before it had the column (it was not incremental
            then): re-read everything once; the column is appended -#}
        cast('-infinity' as timestamptz)
    {%- elif newest is none -%}
        cast(null as timestamptz)
    {%- else -%}
        (
            cast('{{ newest }}' as timestamptz)
            - interval '{{ var("late_arrival_days", 3) }} days'
        )
    {%- endif -%}
{%- endmacro %}

{#- The orders to re-read since `since` (a timestamp): orders the loader wrote
    and orders with a line it wrote; with `orders_by_customer` (a table of
    orders with an index on customer_id: fct_orders itself), also the orders of
    customers it wrote (a customer who arrived after their order, or changed).
    Union branches rather than `or`, so that each filter is estimated from its
    column's statistics. The model that calls it declares the refs with
    `-- depends_on:` (they are only read in incremental runs). -#}
{% macro orders_changed_since(since, orders_by_customer=none) -%}
    select orders_changed.order_id
    from {{ ref('stg_shop__orders') }} as orders_changed
    where orders_changed.loaded_at >= {{ since }}

    union

    select lines_changed.order_id
    from {{ ref('stg_shop__order_lines') }} as lines_changed
    where lines_changed.loaded_at >= {{ since }}

    {% if orders_by_customer is not none %}

        union

        select orders_of_customers.order_id
        from {{ orders_by_customer }} as orders_of_customers
        where
            orders_of_customers.customer_id = any(array(
                select customers_changed.customer_id
                from {{ ref('stg_shop__customers') }} as customers_changed
                where customers_changed.loaded_at >= {{ since }}
            ))

    {% endif %}
{%- endmacro %}

{#- The first period (of `grain`: day, week or month) an incremental rollup
    rebuilds: the period of the oldest `date_column` among the rows of
    `relation` (an incremental fact) in its late-arrival window, as a date
    constant (read when the model is compiled); null when there is none
    (nothing to rebuild). Every period from it on is rebuilt whole, so a rollup
    deletes and inserts whole periods (delete+insert on its period). -#}
{% macro first_changed_period(relation, date_column, grain='month') -%}
    {%- set first_period = none -%}
    {%- if execute -%}
        {#- the changed rows first (materialized), then their minimum: a bare
            min(date) with a filter on loaded_at is planned as a walk up the
            date index from the oldest row, past the whole history, to the
            first row in the window (seen: 13 s at 3 million orders) -#}
        {%- set first_period = run_query(
            "with changed_rows as materialized ("
            ~ " select " ~ date_column ~ " as changed_date from " ~ relation
            ~ " where loaded_at >= " ~ late_arrival_since(relation) ~ ")"
            ~ " select cast(date_trunc('" ~ grain ~ "', min(changed_date))"
            ~ " as date) from changed_rows"
        ).columns[0].values()[0] -%}
    {%- endif -%}
    {%- if first_period is none -%}
        cast(null as date)
    {%- else -%}
        cast('{{ first_period }}' as date)
    {%- endif -%}
{%- endmacro %}
