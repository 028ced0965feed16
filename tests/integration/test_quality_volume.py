"""Load volume anomalies against a real audit.loads history, with a local webhook."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import pytest

from metricstack.config import Settings, load_settings
from metricstack.quality.alerts import WEBHOOK_VAR
from metricstack.quality.volume import check_ingest_volume, check_volume, holds_batch

SOURCE = "shop_orders"
# a Wednesday; the history is the eight Wednesdays before it, plus noise on other days
TODAY = datetime(2026, 3, 18, 6, 0, tzinfo=UTC)
HISTORY = [1000, 1040, 980, 1010, 995, 1100, 1020, 970]


class Webhook:
    """A tiny local HTTP server that keeps what is POSTed to it."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/metricstack"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture
def history(warehouse: Settings) -> Settings:
    """Eight same-weekday loads of SOURCE, and loads of other weekdays that must not count."""
    rows = [(TODAY - timedelta(weeks=w + 1), n) for w, n in enumerate(HISTORY)]
    rows += [(TODAY - timedelta(days=d), 50_000) for d in (1, 2, 3, 4, 5, 6)]
    with psycopg.connect(warehouse.warehouse_url) as conn, conn.cursor() as cur:
        cur.executemany(
            "insert into audit.loads (source, file_name, file_sha256, run_id, started_at, "
            "finished_at, rows_read, rows_loaded) values (%s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (SOURCE, f"extract {i}", f"sha{i}", f"scheduled__{at:%Y-%m-%d}", at, at, n, n)
                for i, (at, n) in enumerate(rows)
            ],
        )
    return warehouse


def alerts(settings: Settings) -> list[tuple[Any, ...]]:
    with psycopg.connect(settings.warehouse_url) as conn:
        return [
            tuple(r)
            for r in conn.execute(
                "select kind, subject, observed, expected_low, expected_high, run_id, notified "
                "from audit.alerts order by alert_id"
            )
        ]


def test_a_usual_load_raises_no_alert(history: Settings) -> None:
    assert check_volume(history, SOURCE, 1015, run_id="usual", at=TODAY) is None
    assert alerts(history) == []


def test_an_empty_extract_and_a_spike_are_alerted_and_posted(
    history: Settings, webhook: Webhook
) -> None:
    settings = load_settings({**history.environ, WEBHOOK_VAR: webhook.url})

    empty = check_volume(settings, SOURCE, 0, run_id="empty-run", at=TODAY)
    spike = check_volume(settings, SOURCE, 9000, run_id="spike-run", at=TODAY)

    assert empty is not None and empty.kind == "empty_extract"
    assert spike is not None and spike.kind == "volume_spike"
    recorded = alerts(settings)
    assert [(r[0], r[1], float(r[2]), r[5], r[6]) for r in recorded] == [
        ("empty_extract", SOURCE, 0.0, "empty-run", True),
        ("volume_spike", SOURCE, 9000.0, "spike-run", True),
    ]
    low, high = float(recorded[0][3]), float(recorded[0][4])
    assert 800 < low < 1005 < high < 1250  # around the median of the Wednesdays only
    assert [(p["kind"], p["subject"], p["observed"]) for p in webhook.received] == [
        ("empty_extract", SOURCE, 0.0),
        ("volume_spike", SOURCE, 9000.0),
    ]
    assert webhook.received[0]["text"].startswith("[metricstack] empty_extract shop_orders")
    assert webhook.received[0]["expected_low"] == pytest.approx(low)


def test_a_second_run_on_a_day_is_judged_with_the_days_earlier_reads(history: Settings) -> None:
    with psycopg.connect(history.warehouse_url) as conn:
        conn.execute(
            "insert into audit.loads (source, file_name, file_sha256, run_id, started_at, "
            "finished_at, rows_read, rows_loaded) values (%s, 'morning', 'sha-morning', "
            "'scheduled', %s, %s, 1010, 1010)",
            (SOURCE, TODAY, TODAY),
        )
    later = TODAY + timedelta(hours=3)

    assert check_volume(history, SOURCE, 0, run_id="manual", at=later) is None
    twice = check_volume(history, SOURCE, 1010, run_id="manual-again", at=later)
    assert twice is not None and twice.kind == "volume_spike"  # the day read 1010 twice
    assert check_volume(history, SOURCE, 0, run_id="scheduled", at=later) is not None


def test_an_ingest_task_that_skipped_its_only_file_counts_as_empty(history: Settings) -> None:
    # what run_ingest_task returns when the extract's content was loaded before
    results = [{"source": SOURCE, "file": "x.csv", "skipped": True, "rows_read": 0}]

    alert = check_ingest_volume(history, SOURCE, results, "today", at=TODAY)

    # no webhook configured: recorded and logged only
    assert alert is not None and alert.kind == "empty_extract"
    assert [(r[0], r[6]) for r in alerts(history)] == [("empty_extract", None)]


def test_too_short_a_history_judges_nothing_and_failures_never_raise(
    warehouse: Settings,
) -> None:
    assert check_volume(warehouse, "crm_nps_responses", 0, at=TODAY) is None
    unreachable = load_settings(
        {**warehouse.environ, "WAREHOUSE_URL": "postgresql://nobody@127.0.0.1:9/none"}
    )
    assert check_volume(unreachable, SOURCE, 0, at=TODAY) is None  # logged, not raised


def test_an_empty_extract_holds_the_batch_only_where_history_always_had_rows(
    history: Settings,
) -> None:
    held = check_volume(history, SOURCE, 0, run_id="held", at=TODAY)
    assert held is not None and held.details["holds_batch"] is True
    assert "held at the raw gate" in held.message
    # quiet on two of the eight weekdays: often empty, an alert at most
    assert not holds_batch("empty_extract", [0, 900, 1000, 0, 1010, 995, 1100, 1020])
    assert holds_batch("empty_extract", [0, *HISTORY[1:]])  # empty once in eight weeks
    assert not holds_batch("empty_extract", HISTORY[:6])  # six weeks: too short to say
    assert not holds_batch("volume_drop", HISTORY)
