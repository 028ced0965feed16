"""What an ingestion task does in Airflow: resolve the connection and the window, ingest.

Errors are sorted for Airflow's retries: a ``TransientSourceError`` (the system is down,
a timeout, a 5xx) is raised as it is, so the task retries with backoff; a data problem
(an unreadable file, a bad declaration, a 4xx) fails the task for good, since
retrying cannot fix it, with a message that says what to fix.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from metricstack.config import Settings
from metricstack.loading.declarations import DeclarationError, Source, SourceSystem
from metricstack.loading.files import RejectedFiles
from metricstack.loading.streams import FileFormatError
from metricstack.loading.systems import Endpoint, Window, ingest_object
from metricstack.sources.errors import SourceDataError
from metricstack.sources.s3 import s3_client

_DATABASE_SCHEMES = {"postgres": "postgresql", "postgresql": "postgresql", "mysql": "mysql"}


def database_url(conn: Any) -> str:
    """The URL of an Airflow database connection (postgres or mysql; database in schema)."""
    scheme = _DATABASE_SCHEMES.get(str(conn.conn_type))
    if scheme is None:
        raise SourceDataError(
            f"connection {conn.conn_id}: type {conn.conn_type!r} is not a database "
            f"this platform reads ({', '.join(sorted(_DATABASE_SCHEMES))})"
        )
    credentials = quote(conn.login or "", safe="")
    if conn.password:
        credentials += ":" + quote(conn.password, safe="")
    netloc = f"{credentials}@{conn.host}" if credentials else str(conn.host)
    if conn.port:
        netloc += f":{conn.port}"
    return f"{scheme}://{netloc}/{conn.schema or ''}"


def endpoint_for(system: SourceSystem) -> Endpoint:
    """The system's Airflow connection as an Endpoint.

    S3 follows Airflow's AWS connection: login and password are the access keys (left
    empty: boto3's own credential chain), ``endpoint_url`` and ``region_name`` in extra.
    """
    from airflow.sdk import Connection

    if system.connection is None:
        raise DeclarationError(f"{system.path}: a {system.kind} source needs a 'connection'")
    conn = Connection.get(system.connection)
    if system.kind == "database":
        return Endpoint(url=database_url(conn))
    if system.kind == "http":
        host = str(conn.host or "")
        base = host if "://" in host else f"{conn.schema or 'http'}://{host}"
        if conn.port and "://" not in host:
            base += f":{conn.port}"
        return Endpoint(url=base, token=conn.password or "")
    extra = conn.extra_dejson
    client = s3_client(
        extra.get("endpoint_url"),
        extra.get("region_name", "us-east-1"),
        conn.login or None,
        conn.password or None,
    )
    return Endpoint(s3=client)


def window_from(context: Any) -> Window:
    params = context.get("params") or {}
    first, last = params.get("backfill_first_day"), params.get("backfill_last_day")
    if first or last:
        if not (first and last):
            raise DeclarationError("a backfill needs both backfill_first_day and backfill_last_day")
        return Window.backfill(date.fromisoformat(first), date.fromisoformat(last))
    # keyed by the run's data interval: a re-run reads up to the same instant
    until: datetime | None = context.get("data_interval_end")
    return Window.scheduled(until)


def run_ingest_task(
    settings: Settings, system: SourceSystem, source: Source, context: Any
) -> list[dict[str, Any]]:
    from airflow.sdk.exceptions import AirflowFailException

    try:
        window = window_from(context)
        endpoint = Endpoint() if system.kind == "files" else endpoint_for(system)
        return ingest_object(settings, system, source, endpoint, window, context["run_id"])
    except (SourceDataError, FileFormatError, RejectedFiles, DeclarationError) as error:
        raise AirflowFailException(f"{source.name}: {error}") from error
