"""What every DAG of the platform shares: owner, retries, failure reporting."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

log = logging.getLogger(__name__)

START_DATE = datetime(2024, 1, 1, tzinfo=UTC)


def log_failure(context: dict[str, Any]) -> None:
    """Say what failed and where to look; the audit trail of failures comes later."""
    ti = context.get("task_instance")
    log.error(
        "task %s of %s (run %s) failed: %s",
        getattr(ti, "task_id", "?"),
        getattr(ti, "dag_id", "?"),
        context.get("run_id"),
        context.get("exception"),
    )


DEFAULT_ARGS: dict[str, Any] = {
    "owner": "data-engineering",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "on_failure_callback": log_failure,
}
