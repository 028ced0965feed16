"""The dbt benchmark's pieces that need no database: the held-back day, figures, report."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from metricstack.bench.dbt_scale import (
    ROOM_PER_MILLION_ORDERS,
    Latency,
    Phase,
    _remember,
    _written_before,
    check_room,
    model_times,
    percentile,
    questions,
    report,
    split_day,
    write_company,
)
from metricstack.config import load_settings


def test_split_day_takes_the_days_orders_and_their_lines() -> None:
    day = date(2025, 12, 31)
    orders = pd.DataFrame(
        {
            "order_id": [1, 2, 3],
            "ordered_at": pd.to_datetime(
                ["2025-12-30T23:59:59Z", "2025-12-31T00:00:00Z", "2025-12-31T23:00:00Z"]
            ),
        }
    )
    lines = pd.DataFrame({"order_id": [1, 1, 2, 3], "line_number": [1, 2, 1, 1]})
    parents: dict[str, set[int]] = {}
    history, new = split_day("orders", orders, day, parents)
    assert history["order_id"].tolist() == [1] and new["order_id"].tolist() == [2, 3]
    history, new = split_day("order_lines", lines, day, parents)
    assert history["order_id"].tolist() == [1, 1] and new["order_id"].tolist() == [2, 3]
    reference = pd.DataFrame({"region_id": [1]})
    assert split_day("regions", reference, day, parents)[1].empty


def test_the_written_company_keeps_every_row_once(tmp_path: Path) -> None:
    from metricstack.bench.dbt_scale import declared_sources

    sources = declared_sources(load_settings({"METRICSTACK_STATE_DIR": str(tmp_path / "s")}))
    written = write_company(1000, 1, 2.0, tmp_path, sources)
    assert written.day_rows["orders"] > 0 and written.day_rows["order_lines"] > 0
    assert written.day_rows["funnel_events"] > 0
    orders = pd.read_csv(written.history["orders"])
    new = pd.read_csv(written.day["orders"])
    assert not set(orders["order_id"]) & set(new["order_id"])
    assert pd.to_datetime(new["ordered_at"]).dt.date.eq(date(2023, 12, 31)).all()
    assert (orders["updated_at"] == "2024-01-01T00:00:00Z").all()  # shop rows carry it
    lines = pd.read_csv(written.day["order_lines"])
    assert set(lines["order_id"]) <= set(new["order_id"])
    _remember(tmp_path, (1000, 1, 2.0), written)  # --reuse finds them again
    assert _written_before(tmp_path, (1000, 1, 2.0)) == written
    assert _written_before(tmp_path, (2000, 1, 2.0)) is None
    written.history["orders"].unlink()  # a run without --reuse deleted its history
    assert _written_before(tmp_path, (1000, 1, 2.0)) is None


def test_a_run_stops_at_once_without_the_room_it_needs(tmp_path: Path) -> None:
    import shutil

    free_millions = shutil.disk_usage(tmp_path).free / ROOM_PER_MILLION_ORDERS
    check_room(tmp_path, int(free_millions * 1_000_000 / 2), files_kept=False)
    with pytest.raises(SystemExit, match=rf"need about \d+ GB free under {tmp_path}"):
        check_room(tmp_path, int(free_millions * 1_000_000 * 2), files_kept=False)


def test_percentiles_and_the_report() -> None:
    samples = [float(v) for v in range(1, 101)]
    assert percentile(samples, 50) == 50.5 and round(percentile(samples, 95), 2) == 95.05
    assert percentile([3.0], 95) == 3.0
    text = report(
        [Phase("dbt run (incremental day)", 12.3, "slowest: fct_orders 5.0s")],
        [Latency("revenue per month, 2025", [1.0, 2.0], [100.0, 120.0])],
        "header",
    )
    assert "dbt run (incremental day)" in text and "12.3" in text
    assert "revenue per month, 2025" in text
    assert "`dbt run` of the whole project" in text  # the report says what the day's run is


def test_model_times_name_each_node() -> None:
    results = [
        {"unique_id": "model.metricstack.fct_orders", "execution_time": 5.004},
        {"unique_id": "model.metricstack.fct_order_lines", "execution_time": None},
    ]
    assert model_times(results) == {"fct_orders": 5.0, "fct_order_lines": 0.0}


def test_questions_ask_the_last_full_year_month_and_quarter() -> None:
    asked = questions(date(2026, 1, 1))
    assert len(asked) == 5
    params = asked[0][3]
    assert params["year_start"] == date(2025, 1, 1) and params["month"] == date(2025, 12, 1)
    assert params["q_start"] == date(2025, 10, 1) and params["q_end"] == date(2026, 1, 1)
    assert params["next_month"] == date(2026, 1, 1)
