"""Alerts: recorded in audit.alerts, logged, and POSTed to a webhook when one is set.

``METRICSTACK_ALERT_WEBHOOK_URL`` (http or https) receives each alert as JSON: the
fields below plus ``text``, a one-line summary (the field Slack and Mattermost
incoming webhooks show). Alerts never stop a pipeline: raising one never raises.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import psycopg
from psycopg.types.json import Jsonb

from metricstack.config import Settings

if TYPE_CHECKING:
    from metricstack.quality.gate import GateResult

log = logging.getLogger(__name__)

WEBHOOK_VAR = "METRICSTACK_ALERT_WEBHOOK_URL"
WEBHOOK_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Alert:
    kind: str  # volume_spike, volume_drop, empty_extract, quality_warning
    subject: str  # what it is about: a source, a checkpoint
    message: str
    observed: float | None = None
    expected_low: float | None = None
    expected_high: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def payload(self) -> dict[str, Any]:
        body = asdict(self)
        body["at"] = self.at.isoformat()
        body["text"] = f"[metricstack] {self.kind} {self.subject}: {self.message}"
        return body


def webhook_url(settings: Settings) -> str | None:
    return settings.environ.get(WEBHOOK_VAR) or None


def notify(url: str, alert: Alert) -> bool:
    """POST the alert as JSON; True when the webhook answered 2xx. Never raises."""
    if urlsplit(url).scheme not in {"http", "https"}:
        log.error("%s must be an http(s) URL; alert not sent", WEBHOOK_VAR)
        return False
    request = urllib.request.Request(  # noqa: S310 # scheme checked above: http(s) only
        url,
        data=json.dumps(alert.payload(), default=str).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:  # noqa: S310 # as above
            return 200 <= int(response.status) < 300
    except Exception as error:  # an alert channel that is down must not stop the pipeline
        log.error("alert webhook failed (%s): %s", type(error).__name__, error)
        return False


def record(conn: psycopg.Connection, alert: Alert, notified: bool | None) -> int:
    row = conn.execute(
        "insert into audit.alerts (kind, subject, observed, expected_low, expected_high, "
        "details, run_id, notified, raised_at) values (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "returning alert_id",
        (
            alert.kind,
            alert.subject,
            alert.observed,
            alert.expected_low,
            alert.expected_high,
            Jsonb({"message": alert.message, **alert.details}),
            alert.run_id,
            notified,
            alert.at,
        ),
    ).fetchone()
    return int(row[0]) if row else 0


def raise_alert(settings: Settings, alert: Alert, role: str = "transformer") -> bool:
    """Log, POST (when a webhook is set) and record the alert; False if any step failed."""
    log.warning("ALERT %s %s: %s", alert.kind, alert.subject, alert.message)
    url = webhook_url(settings)
    notified = notify(url, alert) if url else None
    try:
        with psycopg.connect(settings.role_url(role), connect_timeout=10) as conn:
            record(conn, alert, notified)
    except Exception as error:
        log.error("could not record alert %s %s: %s", alert.kind, alert.subject, error)
        return False
    return notified is not False


def gate_warning_alert(result: GateResult, run_id: str | None) -> Alert:
    warnings = result.warnings
    return Alert(
        kind="quality_warning",
        subject=result.checkpoint,
        message=f"{len(warnings)} warning(s), not blocking: "
        + "; ".join(w.describe() for w in warnings[:5])
        + (f" (and {len(warnings) - 5} more)" if len(warnings) > 5 else ""),
        observed=float(len(warnings)),
        details={
            "warnings": [
                {"asset": w.asset, "expectation": w.expectation_type, "column": w.column}
                for w in warnings
            ],
            "data_docs": list(result.data_docs_pages) or [result.data_docs_index],
        },
        run_id=run_id,
    )
