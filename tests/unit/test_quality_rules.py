"""Volume anomaly rules, the retention setting and the failure hints, without a database."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowFailException

from metricstack.config import load_settings
from metricstack.pipeline.defaults import failure_hint
from metricstack.quality.audit import DEFAULT_RETENTION_DAYS, RETENTION_VAR, retention_days
from metricstack.quality.volume import MIN_POINTS, classify, expected_range, rows_read


def test_the_range_is_the_median_plus_or_minus_k_scaled_mads() -> None:
    expected = expected_range([100, 110, 90, 105, 95, 100, 300])  # one outlier day
    assert expected is not None
    assert expected.median == 100
    # MAD 5 -> 3 x 1.4826 x 5 = 22.2: the outlier does not widen the range
    assert expected.low == pytest.approx(77.761)
    assert expected.high == pytest.approx(122.239)
    assert classify(100, expected) is None
    assert classify(0, expected) == "empty_extract"
    assert classify(50, expected) == "volume_drop"
    assert classify(400, expected) == "volume_spike"


def test_a_steady_history_tolerates_ten_percent_and_a_short_one_judges_nothing() -> None:
    steady = expected_range([1000] * 6)
    assert steady is not None and (steady.low, steady.high) == (900, 1100)
    assert classify(1050, steady) is None
    assert expected_range([1000] * (MIN_POINTS - 1)) is None
    quiet = expected_range([0, 0, 0, 0])  # a source that usually brings nothing
    assert quiet is not None and classify(0, quiet) is None


def test_skipped_content_counts_as_no_rows() -> None:
    assert rows_read([]) == 0
    assert rows_read([{"rows_read": 5, "skipped": False}, {"rows_read": 0, "skipped": True}]) == 5


def test_retention_days_default_and_validation(tmp_path: Path) -> None:
    base = {"METRICSTACK_STATE_DIR": str(tmp_path)}
    assert retention_days(load_settings(base)) == DEFAULT_RETENTION_DAYS == 400
    assert retention_days(load_settings({**base, RETENTION_VAR: "30"})) == 30
    for wrong in ("0", "-3", "a year"):
        with pytest.raises(ValueError, match=RETENTION_VAR):
            retention_days(load_settings({**base, RETENTION_VAR: wrong}))


def test_failure_hints_say_what_to_do() -> None:
    assert "Data Docs" in failure_hint(AirflowFailException("quality gate 'x' failed: ..."))
    assert "declaration" in failure_hint(AirflowFailException("shop_orders: bad row 3"))
    assert "traceback" in failure_hint(RuntimeError("boom"))
    assert "traceback" in failure_hint(None)
