-- One row per product of the catalogue, with its category and supplier.
with

products as (

    select * from {{ ref('stg_shop__products') }}

),

categories as (

    select * from {{ ref('stg_shop__categories') }}

),

suppliers as (

    select * from {{ ref('stg_shop__suppliers') }}

),

products_joined as (

    select
        products.product_id,
        products.sku,
        products.product_name,
        products.category_id,
        categories.category_name,
        products.supplier_id,
        suppliers.supplier_name,
        products.unit_cost,
        products.list_price,
        products.launched_on,
        products.discontinued_on,
        products.discontinued_on is null as is_on_sale

    from products
    inner join categories
        on products.category_id = categories.category_id
    inner join suppliers
        on products.supplier_id = suppliers.supplier_id

)

select * from products_joined
