{#- Models go to the schema their folder names (staging, intermediate, marts_build)
    rather than dbt's default <target schema>_<custom schema>: the warehouse's
    schemas and grants are fixed by plugins/metricstack/warehouse/bootstrap.py. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
