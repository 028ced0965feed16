"""Load volume anomalies: a load far from what the same weekday usually brings.

Each ingestion task ends with ``check_ingest_volume``: the rows it read (0 when the
extract was empty, the file was skipped as already loaded, or no file arrived) are
compared with that source's daily totals in audit.loads on the same weekday of the
last ``WEEKS`` weeks. With at least ``MIN_POINTS`` such days, the expected range is
the median ± ``K`` scaled MADs (1.4826 x the median absolute deviation estimates a
standard deviation, robust to the odd outlier day), widened to at least ±10 % of the
median and ±1 row so that a perfectly steady history does not flag a one-row change.
Outside it, an alert (quality/alerts.py: audit.alerts, the task log, the webhook):
``empty_extract`` (0 rows where history expects some), ``volume_drop`` or
``volume_spike``. Days without any load are no history point: a monthly file is not
judged daily. It never fails the ingestion.

An empty extract of an object that reads rows on (almost) every one of those weekdays
also holds the batch: the alert says ``holds_batch`` and the transform DAG's raw gate
(checkpoint ``extract_volume_gate``, expectations/define_gx.py) blocks until a later
load of that object brings rows (the next scheduled extract reads from the unmoved
high-water mark, or a backfill of the day). ``HOLD_MIN_DAYS`` of the last ``WEEKS``
same weekdays must have read rows: an object that was quiet on two of them or more is
often empty (a legitimately quiet feed), and one with a shorter history is too new to
say; for those an empty extract stays an alert.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from metricstack.config import Settings
from metricstack.quality.alerts import Alert, raise_alert

log = logging.getLogger(__name__)

WEEKS = 8
MIN_POINTS = 4
K = 3.0
MAD_SCALE = 1.4826
MIN_RELATIVE = 0.10
# An empty extract holds the batch when at least this many of the last WEEKS same
# weekdays read rows (empty at most once in eight weeks).
HOLD_MIN_DAYS = 7


@dataclass(frozen=True)
class Expected:
    median: float
    low: float
    high: float
    points: int


def expected_range(history: Sequence[float], *, k: float = K) -> Expected | None:
    """median ± k scaled MADs of ``history``; None with fewer than MIN_POINTS points."""
    if len(history) < MIN_POINTS:
        return None
    median = float(statistics.median(history))
    mad = float(statistics.median(abs(x - median) for x in history))
    spread = max(k * MAD_SCALE * mad, MIN_RELATIVE * median, 1.0)
    return Expected(median, max(0.0, median - spread), median + spread, len(history))


def classify(observed: float, expected: Expected) -> str | None:
    if observed == 0 and expected.low > 0:
        return "empty_extract"
    if observed < expected.low:
        return "volume_drop"
    if observed > expected.high:
        return "volume_spike"
    return None


def holds_batch(kind: str | None, history: Sequence[float]) -> bool:
    """Whether an empty extract should stop the batch rather than only alert (see above)."""
    return kind == "empty_extract" and sum(1 for n in history if n > 0) >= HOLD_MIN_DAYS


def same_weekday_history(
    conn: psycopg.Connection, source: str, at: datetime, weeks: int = WEEKS
) -> list[int]:
    """Rows read per day (UTC) by ``source`` on the same weekday of the previous weeks."""
    day = at.astimezone(UTC).date()
    days = [day - timedelta(weeks=w) for w in range(1, weeks + 1)]
    rows = conn.execute(
        "select (started_at at time zone 'UTC')::date as day, sum(rows_read) "
        "from audit.loads where source = %s "
        "and started_at >= %s and started_at < %s "
        "and (started_at at time zone 'UTC')::date = any(%s) group by 1",
        (
            source,
            datetime.combine(days[-1], datetime.min.time(), UTC),
            datetime.combine(day, datetime.min.time(), UTC),
            days,
        ),
    ).fetchall()
    return [int(total) for _, total in rows]


def read_earlier_today(
    conn: psycopg.Connection, source: str, at: datetime, run_id: str | None
) -> int:
    """Rows other runs of ``source`` read on ``at``'s day (UTC): the history counts per day,
    so a second run on one day (a manual trigger) is judged with the day's earlier reads,
    not as an empty extract."""
    day = datetime.combine(at.astimezone(UTC).date(), datetime.min.time(), UTC)
    total = conn.execute(
        "select coalesce(sum(rows_read), 0) from audit.loads where source = %s "
        "and started_at >= %s and started_at < %s and run_id is distinct from %s",
        (source, day, day + timedelta(days=1), run_id),
    ).fetchone()
    return int(total[0]) if total else 0


def check_volume(
    settings: Settings,
    source: str,
    observed: int,
    *,
    run_id: str | None = None,
    at: datetime | None = None,
    role: str = "loader",
) -> Alert | None:
    """Compare ``observed`` rows with the source's history; alert if off. Never raises."""
    at = at or datetime.now(UTC)
    try:
        with psycopg.connect(settings.role_url(role), connect_timeout=10) as conn:
            history = same_weekday_history(conn, source, at)
            observed += read_earlier_today(conn, source, at, run_id)
        expected = expected_range(history)
        if expected is None:
            log.info(
                "%s: %d rows read; %d same-weekday loads in the last %d weeks, %d needed to judge",
                source,
                observed,
                len(history),
                WEEKS,
                MIN_POINTS,
            )
            return None
        kind = classify(observed, expected)
        log.info(
            "%s: %d rows read; same weekday's usual range %.0f-%.0f (median %.0f, %d days)%s",
            source,
            observed,
            expected.low,
            expected.high,
            expected.median,
            expected.points,
            f": {kind}" if kind else "",
        )
        if kind is None:
            return None
        holds = holds_batch(kind, history)
        alert = Alert(
            kind=kind,
            subject=source,
            message=(
                f"{observed} rows read on a {at.astimezone(UTC):%A}; the last "
                f"{expected.points} {at.astimezone(UTC):%A}s read {expected.median:.0f} "
                f"(usual range {expected.low:.0f}-{expected.high:.0f}). Check the source "
                "system's extract or delivery before trusting today's numbers."
                + (
                    " The batch is held at the raw gate until a load of this object "
                    "brings rows (the next extract, or a backfill of the day)."
                    if holds
                    else ""
                )
            ),
            observed=float(observed),
            expected_low=round(expected.low, 2),
            expected_high=round(expected.high, 2),
            details={
                "median": expected.median,
                "history": history,
                "weeks": WEEKS,
                "holds_batch": holds,
            },
            run_id=run_id,
            at=at,
        )
        raise_alert(settings, alert, role=role)
        return alert
    except Exception as error:  # a volume check must never fail an ingestion
        log.error("%s: volume check failed (%s): %s", source, type(error).__name__, error)
        return None


def rows_read(results: Sequence[dict[str, Any]]) -> int:
    """Rows an ingestion task read: skipped (already loaded) content counts as none."""
    return sum(int(r.get("rows_read") or 0) for r in results if not r.get("skipped"))


def check_ingest_volume(
    settings: Settings,
    source: str,
    results: Sequence[dict[str, Any]],
    run_id: str | None,
    *,
    at: datetime | None = None,
) -> Alert | None:
    """The end of an ingestion task: its load results against the source's history."""
    return check_volume(settings, source, rows_read(results), run_id=run_id, at=at)
