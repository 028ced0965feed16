"""The sample company's landing folder: the workbooks and CSV files its teams drop.

    paths = write_landing_files(generate(config), settings.landing_dir)

Layout, one folder per feed (a source declaration's pattern is ``<feed>/*.xlsx`` or
``<feed>/*.csv``):

- ``deliveries/deliveries_2024-03.xlsx``, ``quality_inspections/...``,
  ``inventory_snapshots/...``: Excel workbooks, one per month (of ``delivered_on``,
  ``inspected_on``, ``snapshot_date``), one sheet named after the table. Per month
  because that is how the warehouse team exports them, and because a month's workbook
  never changes once written: the loader skips files it has loaded (by content hash),
  so a new month costs one small file, not a whole history, and no workbook comes near
  Excel's 1,048,576 rows or openpyxl's memory use reading a large sheet.
- ``employees/employees.csv``, ``cost_centres/...``, ``timesheets/...``,
  ``operating_costs/...``, ``general_ledger/...``: one CSV file each, as HR and finance
  export them whole; COPY loads them in seconds and the merge on the key makes a
  re-delivered file harmless. employees.csv keeps the planted wrong encoding (rows in
  cp1252, see dirt.py).

Cells and text are the generator's writers' (writers.py): dates as date cells where
they parse, the planted local date formats of deliveries as text, money with two
decimals in CSV. The output is deterministic byte for byte: the workbooks' zip entries
and document properties carry fixed times (the first day after their month), so
writing the folder again gives the same files and the loader loads nothing twice.
Files appear complete or not at all (written aside, then renamed). Files already in the
folder that this call does not write are left alone.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pandas as pd

from metricstack.sample_company.dirt import ENCODING_DIRT_FILE
from metricstack.sample_company.generator import Company
from metricstack.sample_company.writers import _write_csv, _write_xlsx

# table -> the date column that picks its month's workbook
WORKBOOK_TABLES = {
    "deliveries": "delivered_on",
    "quality_inspections": "inspected_on",
    "inventory_snapshots": "snapshot_date",
}
CSV_TABLES = ("employees", "cost_centres", "timesheets", "operating_costs", "general_ledger")
_CORE_TIMES = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")


def write_landing_files(company: Company, folder: Path) -> list[Path]:
    """Write the landing folder's files of ``company`` into ``folder``; the paths, sorted."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    started: set[str] = set()
    for chunk in company.chunks():
        table, frame = chunk.table, chunk.frame
        if table in CSV_TABLES:
            path = folder / table / f"{table}.csv"
            first = table not in started
            started.add(table)
            cp1252: set[tuple[int | str, ...]] = set()
            if f"{table}.csv" == ENCODING_DIRT_FILE:
                cp1252 = set(company.truth.keys(table, "wrong_encoding"))
            if first:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.with_name(f".{path.name}.part").unlink(missing_ok=True)
                written.append(path)
            # append the table's chunks aside; renamed when the stream ends
            _write_csv(path.with_name(f".{path.name}.part"), table, frame, first, cp1252)
        elif table in WORKBOOK_TABLES:
            for month, rows in _by_month(frame, WORKBOOK_TABLES[table]):
                path = folder / table / f"{table}_{month:%Y-%m}.xlsx"
                path.parent.mkdir(parents=True, exist_ok=True)
                with _aside(path) as partial:
                    _write_xlsx(partial, table, rows.reset_index(drop=True))
                    _fix_times(partial, _next_month(month))
                written.append(path)
    for table in started:
        path = folder / table / f"{table}.csv"
        path.with_name(f".{path.name}.part").replace(path)
    return sorted(written)


def _by_month(frame: pd.DataFrame, column: str) -> Iterator[tuple[date, pd.DataFrame]]:
    """The frame's rows by the month of ``column`` (text in a local format included)."""
    values = frame[column]
    stamps = pd.to_datetime(values, format="ISO8601", errors="coerce")
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        local = pd.to_datetime(values, format="%d.%m.%Y", errors="coerce")  # see dirt.py
        stamps = stamps.fillna(local)
    if stamps.isna().any():
        bad = values[stamps.isna()].iloc[0]
        raise ValueError(f"{column}: {bad!r} is not a date the landing folder knows")
    months = stamps.dt.to_period("M")
    for period in sorted(months.unique()):
        yield period.start_time.date(), frame[(months == period).to_numpy()]


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


@contextmanager
def _aside(path: Path) -> Iterator[Path]:
    """A temporary name next to ``path``, renamed to it when the block succeeds."""
    partial = path.with_name(f".{path.name}.part")
    try:
        yield partial
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def _fix_times(path: Path, when: date) -> None:
    """Make a workbook byte-for-byte repeatable: fixed zip entry and document times."""
    stamp = f"{when:%Y-%m-%d}T00:00:00Z".encode()
    with zipfile.ZipFile(path) as source:
        entries = [(info, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info, data in entries:
            if info.filename == "docProps/core.xml":
                data = _CORE_TIMES.sub(rb"\g<1>" + stamp + rb"\g<3>", data)
            fixed = zipfile.ZipInfo(
                info.filename, date_time=(when.year, when.month, when.day, 0, 0, 0)
            )
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            target.writestr(fixed, data)
