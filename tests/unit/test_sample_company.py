"""The sample company generator: determinism, chunking, integrity, anomalies, dirt."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metricstack.sample_company.config import CompanyConfig
from metricstack.sample_company.dirt import DIRT_SPEC
from metricstack.sample_company.generator import Company, generate
from metricstack.sample_company.schema import SCHEMAS
from metricstack.sample_company.writers import write_company

SMALL = CompanyConfig(orders=6_000, years=2)


def cents(series: pd.Series) -> np.ndarray:
    return np.rint(series.to_numpy(dtype=float) * 100).astype(np.int64)


@pytest.fixture(scope="module")
def dirty() -> tuple[Company, dict[str, pd.DataFrame]]:
    company = generate(SMALL)
    return company, company.collect()


@pytest.fixture(scope="module")
def clean() -> tuple[Company, dict[str, pd.DataFrame]]:
    company = generate(CompanyConfig(orders=SMALL.orders, years=SMALL.years, dirt=False))
    return company, company.collect()


@pytest.fixture(scope="module")
def default() -> tuple[Company, dict[str, pd.DataFrame]]:
    company = generate(CompanyConfig())
    return company, company.collect()


def test_every_table_matches_its_schema(dirty: tuple[Company, dict[str, pd.DataFrame]]) -> None:
    _, tables = dirty
    assert set(tables) == set(SCHEMAS)
    for name, frame in tables.items():
        assert tuple(frame.columns) == SCHEMAS[name].column_names, name
        assert len(frame) > 0, name


def test_same_config_same_bytes(tmp_path: Path) -> None:
    config = CompanyConfig(orders=600, years=1, seed=3)
    a = write_company(config, tmp_path / "a", formats=("csv", "jsonl"))
    b = write_company(config, tmp_path / "b", formats=("csv", "jsonl"))
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert len(names) == 2 * len(SCHEMAS) + 1  # and the truth file
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert a.truth.to_json() == b.truth.to_json()
    assert a.truth.rows["orders"] > 500
    other = generate(CompanyConfig(orders=600, years=1, seed=4)).month(0)["orders"]
    assert not other.equals(generate(config).month(0)["orders"])


def test_a_month_alone_equals_that_month_in_the_stream() -> None:
    company = generate(SMALL)
    wanted = {3, 12}
    streamed: dict[int, dict[str, pd.DataFrame]] = {}
    labels = {company.plan.timeline.month_label(m): m for m in wanted}
    for chunk in company.chunks():
        if chunk.period != "all":
            label = int(chunk.period.replace("-", ""))
            if label in labels:
                streamed.setdefault(labels[label], {})[chunk.table] = chunk.frame
    fresh = generate(SMALL)  # a new object: nothing carried over from the stream
    for m in wanted:
        alone = fresh.month(m)
        assert set(alone) == set(streamed[m])
        for table, frame in alone.items():
            pd.testing.assert_frame_equal(frame, streamed[m][table], check_exact=True)


def test_keys_unique_and_references_hold_in_clean_data(
    clean: tuple[Company, dict[str, pd.DataFrame]],
) -> None:
    _, tables = clean
    for name, schema in SCHEMAS.items():
        frame = tables[name]
        assert not frame.duplicated(list(schema.primary_key)).any(), name
        for column in schema.columns:
            if column.references is None:
                continue
            parent_table, parent_column = column.references.split(".")
            parent = set(tables[parent_table][parent_column].dropna().tolist())
            child = set(frame[column.name].dropna().tolist())
            assert child <= parent, (name, column.name, sorted(child - parent)[:5])


def test_money_adds_up(clean: tuple[Company, dict[str, pd.DataFrame]]) -> None:
    company, t = clean
    orders, lines = t["orders"].set_index("order_id"), t["order_lines"]
    line_amount = cents(lines["quantity"] * lines["unit_price"]) - cents(lines["line_discount"])
    assert (line_amount == cents(lines["amount"])).all()
    subtotal = pd.Series(cents(lines["amount"]), index=lines["order_id"]).groupby(level=0).sum()
    assert (subtotal.reindex(orders.index).to_numpy() == cents(orders["subtotal"])).all()
    total = cents(orders["subtotal"]) - cents(orders["discount"]) + cents(orders["shipping_fee"])
    assert (total == cents(orders["total"])).all()
    paid = (
        pd.Series(cents(t["payments"]["amount"]), index=t["payments"]["order_id"])
        .groupby(level=0)
        .sum()
    )
    assert (paid.to_numpy() == cents(orders.loc[paid.index, "total"])).all()
    assert not (orders.loc[paid.index, "status"] == "cancelled").any()
    # returns: delivered lines only, after delivery, not more than was bought
    r = t["returns"].merge(lines, on=["order_id", "line_number"], suffixes=("", "_line"))
    assert len(r) == len(t["returns"])
    r = r.join(orders[["status", "delivered_on"]], on="order_id")
    assert (r["status"] == "delivered").all()
    assert (r["returned_on"] > r["delivered_on"]).all()
    assert (r["quantity"] <= r["quantity_line"]).all()
    # the ledger's revenue reconciles with the orders, day by day, to the cent
    live = orders[orders["status"] != "cancelled"]
    per_day = (
        pd.Series(
            cents(live["subtotal"]) - cents(live["discount"]),
            index=live["ordered_at"].dt.strftime("%Y-%m-%d"),
        )
        .groupby(level=0)
        .sum()
    )
    gl = t["general_ledger"]
    revenue = gl[gl["account_code"] == "4000"]
    gl_day = pd.Series(cents(revenue["credit"]), index=revenue["posted_on"].dt.strftime("%Y-%m-%d"))
    assert gl_day.groupby(level=0).sum().to_dict() == per_day.to_dict()
    truth = {d: v for d, v in company.truth.daily_revenue_cents.items() if v}
    assert truth == per_day.to_dict()
    journals = gl.assign(dr=cents(gl["debit"]), cr=cents(gl["credit"])).groupby("journal_id")
    assert (journals["dr"].sum() == journals["cr"].sum()).all()


def test_funnel_feeds_orders_and_spend_feeds_customers(
    clean: tuple[Company, dict[str, pd.DataFrame]],
) -> None:
    _, t = clean
    events, orders = t["funnel_events"], t["orders"]
    purchases = events[events["event_type"] == "purchase"]
    web_orders = orders[orders["sales_rep_id"].isna()]
    assert set(purchases["order_id"].astype("int64")) == set(web_orders["order_id"])
    stages = events["event_type"].value_counts()
    assert (
        stages["visit"]
        > stages["product_view"]
        > stages["cart"]
        > stages["checkout"]
        > stages["purchase"]
    )
    # CAC per paid channel: spend / customers acquired through it, near the plan
    customers = t["customers"][t["customers"]["signup_date"] >= pd.Timestamp(SMALL.start)]
    acquired = customers["acquisition_channel"].value_counts()
    spend = t["marketing_spend"].groupby("channel")["spend"].sum()
    cac = spend / acquired.reindex(spend.index)
    assert 25 < cac["paid_search"] < 45
    assert cac["display"] > cac["paid_search"] > cac["email"]


def test_cohorts_decay_and_customers_churn(
    default: tuple[Company, dict[str, pd.DataFrame]],
) -> None:
    _, t = default
    orders = t["orders"].drop_duplicates()
    customers = t["customers"].drop_duplicates()
    first_year = customers[
        (customers["signup_date"] >= "2023-01-01") & (customers["signup_date"] < "2023-04-01")
    ]["customer_id"]
    cohort = orders[orders["customer_id"].isin(first_year)]
    month = cohort["ordered_at"].dt.tz_convert(None).dt.to_period("M")
    per_month = cohort.groupby(month)["customer_id"].nunique()
    assert per_month.loc["2023-04"] > 2 * per_month.loc["2025-10"]


def test_planted_anomalies_show(default: tuple[Company, dict[str, pd.DataFrame]]) -> None:
    company, t = default
    truth = company.truth.anomalies
    orders = t["orders"].drop_duplicates()
    live = orders[orders["status"] != "cancelled"]
    revenue = (live["subtotal"] - live["discount"]).groupby(live["ordered_at"].dt.date).sum()
    dip = truth.dip_day
    neighbours = [dip + timedelta(weeks=k) for k in (-2, -1, 1, 2)]
    assert revenue[dip] < 0.5 * np.mean([revenue[d] for d in neighbours])
    d = t["deliveries"]
    delivered = pd.to_datetime(d["delivered_on"], format="%Y-%m-%d", errors="coerce")
    d = d.assign(delay=(delivered - d["promised_on"]).dt.days).dropna(subset=["delay"])
    pos = t["purchase_orders"].set_index("purchase_order_id")["supplier_id"]
    d = d.assign(supplier=d["purchase_order_id"].map(pos))
    after = d["promised_on"] >= pd.Timestamp(truth.late_from)
    late = d["supplier"] == truth.late_supplier_id
    assert d[late & after]["delay"].mean() > 6
    assert d[late & ~after]["delay"].mean() < 1.5
    assert d[~late & after]["delay"].mean() < 1.5


def test_dirt_is_what_the_truth_says(
    dirty: tuple[Company, dict[str, pd.DataFrame]], clean: tuple[Company, dict[str, pd.DataFrame]]
) -> None:
    company, d = dirty
    _, c = clean
    truth = company.truth
    for table, kinds in DIRT_SPEC.items():
        for kind, column in kinds:
            count = truth.count(table, kind)
            assert count >= 1, (table, kind)
            keys = truth.keys(table, kind)
            pk = list(SCHEMAS[table].primary_key)
            rows = d[table].set_index(pk)
            if kind == "duplicate":
                assert len(d[table]) - len(c[table]) >= count
                assert rows.index.duplicated().sum() >= count
            elif kind == "unknown_fk":
                parent_table, parent_column = SCHEMAS[table].column(column).references.split(".")
                parent = set(d[parent_table][parent_column])
                values = rows.loc[[k if len(k) > 1 else k[0] for k in keys], column]
                assert not set(values) & parent
                assert (~d[table][column].isin(parent)).sum() == count
            elif kind == "negative_quantity":
                assert (d[table][column] < 0).sum() == count
            elif kind == "malformed_date":
                iso = pd.to_datetime(d[table][column], format="ISO8601", errors="coerce")
                assert iso.isna().sum() == count
    # apart from the dirt, the dirty and clean companies are the same
    lines = d["order_lines"].drop_duplicates().copy()
    lines["quantity"] = lines["quantity"].abs()
    same = lines.merge(c["order_lines"], on=["order_id", "line_number"], suffixes=("", "_c"))
    assert len(same) == len(c["order_lines"])
    assert (same["quantity"] == same["quantity_c"]).all()
    assert (same["amount"] == same["amount_c"]).all()


def test_wrong_encoding_lines_in_employees_csv(tmp_path: Path) -> None:
    written = write_company(CompanyConfig(orders=1_000, years=1), tmp_path, formats=("csv",))
    keys = {k[0] for k in written.truth.keys("employees", "wrong_encoding")}
    assert keys
    bad = []
    for number, line in enumerate((tmp_path / "employees.csv").read_bytes().splitlines()):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            bad.append(int(line.decode("cp1252").split(",")[0]))
            assert number > 0
    assert set(bad) == keys
    header = (tmp_path / "orders.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == ",".join(SCHEMAS["orders"].column_names)


def test_small_and_large_plans_have_the_same_shape() -> None:
    small = generate(CompanyConfig(orders=1_000)).plan
    large = generate(CompanyConfig(orders=100_000)).plan
    for plan, target in ((small, 1_000), (large, 100_000)):
        assert abs(plan.month_orders.sum() / target - 1) < 0.08
        # the same seasonal rhythm: each December well above each preceding September
        by_month = plan.month_orders
        for year in range(3):
            assert by_month[12 * year + 11] > 1.15 * by_month[12 * year + 8]
    ratio_customers = len(large.customers) / len(small.customers)
    assert 70 < ratio_customers < 130
    assert len(large.catalogue.product_ids) > len(small.catalogue.product_ids)


def test_parquet_and_excel_where_their_libraries_exist(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    openpyxl = pytest.importorskip("openpyxl")
    written = write_company(
        CompanyConfig(orders=600, years=1), tmp_path, formats=("parquet", "xlsx"), truth_file=None
    )
    assert len(pd.read_parquet(tmp_path / "orders.parquet")) == written.truth.rows["orders"]
    sheet = openpyxl.load_workbook(tmp_path / "deliveries.xlsx", read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == SCHEMAS["deliveries"].column_names
    text_dates = sum(isinstance(r[4], str) for r in rows[1:])
    assert text_dates == written.truth.count("deliveries", "malformed_date")
