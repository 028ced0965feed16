"""The benchmark's code at a tiny scale: every method runs and loads every row."""

from __future__ import annotations

from pathlib import Path

from metricstack.bench.load import METHODS, report, run_bench


def test_bench_runs_every_method_at_a_tiny_scale(pg_server: str, tmp_path: Path) -> None:
    outcomes = run_bench(0.001, METHODS, tmp_path, admin_url=pg_server)
    assert [o.method for o in outcomes] == list(METHODS)
    assert len({o.rows for o in outcomes}) == 1 and outcomes[0].rows > 5000
    assert all(o.peak_rss_mb > 0 and o.seconds > 0 for o in outcomes)
    assert "vs psql" in report(outcomes, outcomes[0].rows)
    assert (tmp_path / "results.json").exists()
