"""The small sample company in real raw tables, loaded as ingestion loads them.

The company is written as CSV files and every declared object of dags/sources/ is
loaded by the real COPY loader into its raw table (dirt included: duplicates merged,
malformed dates and wrongly encoded lines quarantined, orphans and flipped quantities
kept). dbt tests build on it; ingestion itself is tested in test_ingest_systems.py.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import psycopg

from metricstack.config import Settings
from metricstack.loading.copy_loader import LoadResult, load_file
from metricstack.loading.declarations import Source, load_systems
from metricstack.sample_company.config import CompanyConfig
from metricstack.sample_company.truth import GroundTruth
from metricstack.sample_company.writers import write_company

CONFIG = CompanyConfig(orders=1000, years=1)
# shop and CRM rows carry the system's own change time (the extractors read by it)
WITH_UPDATED_AT = ("shop", "crm")
UPDATED_AT = "2024-01-01T00:00:00Z"


@dataclass(frozen=True)
class RawSample:
    truth: GroundTruth
    folder: Path  # the company's CSV files, one per table
    sources: list[Source]
    loads: dict[str, LoadResult]  # by object name


def _with_updated_at(path: Path) -> None:
    """Add the source system's updated_at column to a written CSV file, text untouched."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame["updated_at"] = UPDATED_AT
    frame.to_csv(path, index=False, lineterminator="\n")


def load_raw_sample(settings: Settings, folder: Path, config: CompanyConfig = CONFIG) -> RawSample:
    written = write_company(config, folder, formats=("csv",))
    systems = load_systems(settings.project_dir / "dags" / "sources")
    sources = [source for system in systems for source in system.objects]
    loads: dict[str, LoadResult] = {}
    with psycopg.connect(settings.role_url("loader")) as conn:
        for source in sources:
            path = folder / f"{source.object}.csv"
            if source.system in WITH_UPDATED_AT:
                _with_updated_at(path)
            # every object as CSV: the same COPY stream whatever the original format
            as_csv = dataclasses.replace(source, format="csv")
            loads[source.object] = load_file(conn, as_csv, path, "raw_sample")
    return RawSample(written.truth, folder, sources, loads)
