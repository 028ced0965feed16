"""The tables of the sample company: columns, types, keys, references and source system.

Types are the warehouse's declared types (bigint, integer, numeric(p,2), text, date,
timestamptz, boolean). ``references`` names the parent ``table.column`` of a foreign
key; tests use it to check every relation generically.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = False
    references: str | None = None


@dataclass(frozen=True)
class TableSchema:
    name: str
    source: str  # which system serves it later: operational_db, crm_api, s3, landing
    primary_key: tuple[str, ...]
    columns: tuple[Column, ...] = field(default_factory=tuple)
    description: str = ""

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _c(spec: str, references: str | None = None) -> Column:
    """``"name type"`` or ``"name type null"``."""
    parts = spec.split()
    return Column(parts[0], parts[1], nullable=parts[-1] == "null", references=references)


MONEY = "numeric(18,2)"

TABLES: tuple[TableSchema, ...] = (
    # --- operational database --------------------------------------------------------
    TableSchema(
        "regions",
        "operational_db",
        ("region_id",),
        (
            _c("region_id integer"),
            _c("name text"),
            _c("warehouse_id integer", "warehouses.warehouse_id"),
        ),
        "sales regions; each is served by one warehouse",
    ),
    TableSchema(
        "countries",
        "operational_db",
        ("country_code",),
        (_c("country_code text"), _c("name text"), _c("region_id integer", "regions.region_id")),
    ),
    TableSchema(
        "warehouses",
        "operational_db",
        ("warehouse_id",),
        (
            _c("warehouse_id integer"),
            _c("name text"),
            _c("country_code text", "countries.country_code"),
        ),
    ),
    TableSchema(
        "categories",
        "operational_db",
        ("category_id",),
        (_c("category_id integer"), _c("name text")),
    ),
    TableSchema(
        "suppliers",
        "operational_db",
        ("supplier_id",),
        (
            _c("supplier_id integer"),
            _c("name text"),
            _c("country_code text"),
            _c("lead_time_days integer"),
        ),
        "country_code is the supplier's own country, often outside our sales countries",
    ),
    TableSchema(
        "products",
        "operational_db",
        ("product_id",),
        (
            _c("product_id bigint"),
            _c("sku text"),
            _c("name text"),
            _c("category_id integer", "categories.category_id"),
            _c("supplier_id integer", "suppliers.supplier_id"),
            _c(f"unit_cost {MONEY}"),
            _c(f"list_price {MONEY}"),
            _c("launched_on date"),
            _c("discontinued_on date null"),
        ),
        "unit_cost and list_price as of the start; both rise each January (see sales.py)",
    ),
    TableSchema(
        "sales_teams",
        "operational_db",
        ("team_id",),
        (_c("team_id integer"), _c("name text"), _c("region_id integer", "regions.region_id")),
    ),
    TableSchema(
        "sales_reps",
        "operational_db",
        ("sales_rep_id",),
        (
            _c("sales_rep_id bigint"),
            _c("employee_id bigint", "employees.employee_id"),
            _c("team_id integer", "sales_teams.team_id"),
            _c("name text"),
        ),
    ),
    TableSchema(
        "customers",
        "operational_db",
        ("customer_id",),
        (
            _c("customer_id bigint"),
            _c("first_name text"),
            _c("last_name text"),
            _c("email text"),
            _c("country_code text", "countries.country_code"),
            _c("segment text"),
            _c("acquisition_channel text"),
            _c("signup_date date"),
            _c("account_manager_id bigint null", "sales_reps.sales_rep_id"),
        ),
        "segment consumer or business; business customers buy through their account manager",
    ),
    TableSchema(
        "orders",
        "operational_db",
        ("order_id",),
        (
            _c("order_id bigint"),
            _c("customer_id bigint", "customers.customer_id"),
            _c("sales_rep_id bigint null", "sales_reps.sales_rep_id"),
            _c("warehouse_id integer", "warehouses.warehouse_id"),
            _c("ordered_at timestamptz"),
            _c("status text"),
            _c("delivered_on date null"),
            _c(f"subtotal {MONEY}"),
            _c(f"discount {MONEY}"),
            _c(f"shipping_fee {MONEY}"),
            _c(f"total {MONEY}"),
        ),
        "total = subtotal - discount + shipping_fee; subtotal = sum of its lines' amount",
    ),
    TableSchema(
        "order_lines",
        "operational_db",
        ("order_id", "line_number"),
        (
            _c("order_id bigint", "orders.order_id"),
            _c("line_number integer"),
            _c("product_id bigint", "products.product_id"),
            _c("quantity integer"),
            _c(f"unit_price {MONEY}"),
            _c(f"unit_cost {MONEY}"),
            _c(f"line_discount {MONEY}"),
            _c(f"amount {MONEY}"),
        ),
        "amount = quantity * unit_price - line_discount",
    ),
    TableSchema(
        "payments",
        "operational_db",
        ("payment_id",),
        (
            _c("payment_id bigint"),
            _c("order_id bigint", "orders.order_id"),
            _c("paid_at timestamptz"),
            _c("method text"),
            _c(f"amount {MONEY}"),
        ),
        "payment_id = order_id * 10 + n; the payments of a paid order sum to its total",
    ),
    TableSchema(
        "returns",
        "operational_db",
        ("return_id",),
        (
            _c("return_id bigint"),
            _c("order_id bigint", "orders.order_id"),
            _c("line_number integer"),
            _c("returned_on date"),
            _c("quantity integer"),
            _c(f"refund_amount {MONEY}"),
            _c("reason text"),
            _c("resellable boolean"),
        ),
        "return_id = order_id * 100 + line_number; only delivered lines are returned",
    ),
    # --- CRM API -------------------------------------------------------------------------
    TableSchema(
        "funnel_events",
        "crm_api",
        ("event_id",),
        (
            _c("event_id bigint"),
            _c("session_id bigint", "web_sessions.session_id"),
            _c("customer_id bigint null", "customers.customer_id"),
            _c("event_type text"),
            _c("occurred_at timestamptz"),
            _c("product_id bigint null", "products.product_id"),
            _c("order_id bigint null", "orders.order_id"),
        ),
        "event_id = session_id * 10 + stage (0 visit .. 4 purchase)",
    ),
    TableSchema(
        "nps_responses",
        "crm_api",
        ("response_id",),
        (
            _c("response_id bigint"),
            _c("customer_id bigint", "customers.customer_id"),
            _c("order_id bigint", "orders.order_id"),
            _c("responded_at timestamptz"),
            _c("score integer"),
        ),
        "response_id = yyyymm of the order's month * 1e6 + n",
    ),
    TableSchema(
        "support_tickets",
        "crm_api",
        ("ticket_id",),
        (
            _c("ticket_id bigint"),
            _c("customer_id bigint", "customers.customer_id"),
            _c("order_id bigint null", "orders.order_id"),
            _c("agent_id bigint", "employees.employee_id"),
            _c("opened_at timestamptz"),
            _c("closed_at timestamptz null"),
            _c("channel text"),
            _c("topic text"),
            _c("priority text"),
            _c("status text"),
            _c("satisfaction integer null"),
        ),
        "ticket_id = yyyymm of the generating month * 1e6 + n",
    ),
    # --- S3 daily drops --------------------------------------------------------------------
    TableSchema(
        "marketing_spend",
        "s3",
        ("spend_date", "channel"),
        (
            _c("spend_date date"),
            _c("channel text"),
            _c(f"spend {MONEY}"),
            _c("impressions bigint"),
            _c("clicks bigint"),
        ),
    ),
    TableSchema(
        "web_sessions",
        "s3",
        ("session_id",),
        (
            _c("session_id bigint"),
            _c("started_at timestamptz"),
            _c("customer_id bigint null", "customers.customer_id"),
            _c("traffic_source text"),
            _c("device text"),
            _c("country_code text", "countries.country_code"),
            _c("pages_viewed integer"),
            _c("duration_seconds integer"),
        ),
        "session_id = yyyymmdd * 1e6 + n; started_at is text in the drop (see dirt.py)",
    ),
    # --- landing folder: Excel workbooks ---------------------------------------------------
    TableSchema(
        "purchase_orders",
        "landing",
        ("purchase_order_id",),
        (
            _c("purchase_order_id bigint"),
            _c("supplier_id integer", "suppliers.supplier_id"),
            _c("warehouse_id integer", "warehouses.warehouse_id"),
            _c("ordered_on date"),
            _c("promised_on date"),
        ),
    ),
    TableSchema(
        "purchase_order_lines",
        "landing",
        ("purchase_order_id", "product_id"),
        (
            _c("purchase_order_id bigint", "purchase_orders.purchase_order_id"),
            _c("product_id bigint", "products.product_id"),
            _c("quantity integer"),
            _c(f"unit_cost {MONEY}"),
        ),
    ),
    TableSchema(
        "deliveries",
        "landing",
        ("delivery_id",),
        (
            _c("delivery_id bigint"),
            _c("purchase_order_id bigint", "purchase_orders.purchase_order_id"),
            _c("product_id bigint", "products.product_id"),
            _c("promised_on date"),
            _c("delivered_on date"),
            _c("quantity_received integer"),
        ),
        "one row per delivered purchase order line; delivered_on is text in the workbook",
    ),
    TableSchema(
        "quality_inspections",
        "landing",
        ("inspection_id",),
        (
            _c("inspection_id bigint"),
            _c("delivery_id bigint", "deliveries.delivery_id"),
            _c("inspected_on date"),
            _c("sample_size integer"),
            _c("defects integer"),
            _c("defect_type text null"),
            _c("passed boolean"),
        ),
        "a failed inspection rejects the whole delivery: it never reaches stock",
    ),
    TableSchema(
        "inventory_snapshots",
        "landing",
        ("snapshot_date", "product_id", "warehouse_id"),
        (
            _c("snapshot_date date"),
            _c("product_id bigint", "products.product_id"),
            _c("warehouse_id integer", "warehouses.warehouse_id"),
            _c("on_hand integer"),
            _c("on_order integer"),
            _c("units_short integer"),
        ),
        "end of each week; units_short = demand the stock could not cover that week",
    ),
    # --- landing folder: CSV files -------------------------------------------------------
    TableSchema(
        "employees",
        "landing",
        ("employee_id",),
        (
            _c("employee_id bigint"),
            _c("first_name text"),
            _c("last_name text"),
            _c("cost_centre_id text", "cost_centres.cost_centre_id"),
            _c("job_title text"),
            _c(f"hourly_rate {MONEY}"),
            _c("hired_on date"),
            _c("left_on date null"),
        ),
    ),
    TableSchema(
        "timesheets",
        "landing",
        ("employee_id", "week_start"),
        (
            _c("employee_id bigint", "employees.employee_id"),
            _c("week_start date"),
            _c("hours numeric(6,2)"),
            _c("output_units integer null"),
            _c("output_kind text null"),
        ),
        "output: units shipped (warehouse), tickets closed (support), orders (sales)",
    ),
    TableSchema(
        "cost_centres",
        "landing",
        ("cost_centre_id",),
        (_c("cost_centre_id text"), _c("name text"), _c("department text")),
    ),
    TableSchema(
        "operating_costs",
        "landing",
        ("cost_month", "cost_centre_id", "cost_type"),
        (
            _c("cost_month date"),
            _c("cost_centre_id text", "cost_centres.cost_centre_id"),
            _c("cost_type text"),
            _c(f"amount {MONEY}"),
        ),
    ),
    TableSchema(
        "general_ledger",
        "landing",
        ("entry_id",),
        (
            _c("entry_id bigint"),
            _c("journal_id bigint"),
            _c("posted_on date"),
            _c("account_code text"),
            _c("account_name text"),
            _c("cost_centre_id text null", "cost_centres.cost_centre_id"),
            _c(f"debit {MONEY}"),
            _c(f"credit {MONEY}"),
            _c("source text"),
        ),
        "see finance.py for the posting rules; every journal balances",
    ),
)

SCHEMAS: dict[str, TableSchema] = {t.name: t for t in TABLES}
