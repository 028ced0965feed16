"""Load every landed file of a file-drop source that has not been loaded yet."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

import psycopg

from metricstack.config import Settings
from metricstack.loading.copy_loader import FileFormatError, load_file
from metricstack.loading.declarations import Source

log = logging.getLogger(__name__)


class RejectedFiles(RuntimeError):
    """Some files did not match their declaration; the others were loaded."""


def load_landed_files(
    settings: Settings, source: Source, run_id: str | None = None
) -> list[dict[str, Any]]:
    files = sorted(settings.landing_dir.glob(source.location))
    if not files:
        log.warning(
            "%s: no files match %s in %s", source.name, source.location, settings.landing_dir
        )
    results: list[dict[str, Any]] = []
    errors: list[str] = []
    # autocommit: each load commits on its own (a transaction per file, not one for all)
    with psycopg.connect(settings.role_url("loader"), autocommit=True) as conn:
        for path in files:
            try:
                results.append(asdict(load_file(conn, source, path, run_id)))
            except FileFormatError as error:
                # One bad file must not hold back the good ones: load on, fail at the end.
                log.error("%s", error)
                errors.append(str(error))
    if errors:
        raise RejectedFiles(
            f"{len(errors)} of {len(files)} files of source {source.name} were not loaded "
            f"(fix the file and drop it again):\n" + "\n".join(errors)
        )
    return results
