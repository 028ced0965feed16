"""Write the sample company to a folder: CSV, JSON lines, Parquet, Excel.

One file per table and format (``orders.csv``, ``orders.jsonl``, ``orders.parquet``,
``deliveries.xlsx``), written chunk by chunk so memory stays bounded. Text formats carry
dates as ISO 8601 (2024-03-05), timestamps as UTC ISO 8601 (2024-03-05T14:03:11Z),
money with two decimals, booleans as true/false and missing values as empty (CSV) or
null (JSON). The planted wrong encoding: in employees.csv the rows listed in the truth
under employees/wrong_encoding are encoded cp1252; every other line is UTF-8.

Parquet needs pyarrow and Excel needs openpyxl; neither is in the platform environment
today, so asking for those formats without them raises a clear error. Excel is written
only for the landing folder's workbook tables and only up to EXCEL_MAX_ROWS rows.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from metricstack.sample_company.config import CompanyConfig
from metricstack.sample_company.dirt import ENCODING_DIRT_CODEC, ENCODING_DIRT_FILE, as_text
from metricstack.sample_company.generator import Company, generate
from metricstack.sample_company.schema import SCHEMAS
from metricstack.sample_company.truth import GroundTruth

FORMATS = ("csv", "jsonl", "parquet", "xlsx")
EXCEL_TABLES = (
    "purchase_orders",
    "purchase_order_lines",
    "deliveries",
    "quality_inspections",
    "inventory_snapshots",
)
EXCEL_MAX_ROWS = 250_000


@dataclass
class WrittenCompany:
    folder: Path
    truth: GroundTruth
    files: dict[str, list[Path]] = field(default_factory=dict)  # table -> files
    skipped: dict[str, str] = field(default_factory=dict)  # "table.xlsx" -> why not


def text_frame(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as the text formats write it (see the module's rules)."""
    out = frame.copy()
    for col in SCHEMAS[table].columns:
        values = out[col.name]
        if col.type in ("date", "timestamptz") and pd.api.types.is_datetime64_any_dtype(values):
            out[col.name] = as_text(values, col.type == "timestamptz")
        elif col.type == "boolean":
            out[col.name] = np.where(values.to_numpy(dtype=bool), "true", "false")
        elif col.type.startswith("numeric"):
            out[col.name] = [f"{v:.2f}" for v in values.to_numpy(dtype=float)]
    return out


def _csv_bytes(frame: pd.DataFrame, header: bool) -> str:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=header, lineterminator="\n")
    return buffer.getvalue()


def _write_csv(
    path: Path,
    table: str,
    frame: pd.DataFrame,
    first: bool,
    cp1252_keys: set[tuple[int | str, ...]],
) -> None:
    text = text_frame(table, frame)
    with path.open("wb" if first else "ab") as handle:
        if not cp1252_keys:
            handle.write(_csv_bytes(text, first).encode("utf-8"))
            return
        pk = list(SCHEMAS[table].primary_key)
        keys = [
            tuple(int(v) if isinstance(v, np.integer) else v for v in row)
            for row in frame[pk].to_numpy(dtype=object)
        ]
        if first:
            handle.write(_csv_bytes(text.iloc[:0], True).encode("utf-8"))
        body = _csv_bytes(text, False).splitlines(keepends=True)
        for key, line in zip(keys, body, strict=True):
            handle.write(line.encode(ENCODING_DIRT_CODEC if key in cp1252_keys else "utf-8"))


def _write_jsonl(path: Path, table: str, frame: pd.DataFrame, first: bool) -> None:
    text = text_frame(table, frame)
    with path.open("w" if first else "a", encoding="utf-8") as handle:
        for col in SCHEMAS[table].columns:  # numbers stay numbers in JSON
            if col.type.startswith("numeric"):
                text[col.name] = frame[col.name].to_numpy(dtype=float)
            elif col.type == "boolean":
                text[col.name] = frame[col.name].to_numpy(dtype=bool)
        handle.write(
            text.to_json(orient="records", lines=True, force_ascii=False, double_precision=2)
        )
        if len(text):
            handle.write("\n")


class _ParquetSink:
    def __init__(self, path: Path) -> None:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise RuntimeError("Parquet output needs pyarrow, which is not installed") from exc
        self.pa, self.pq, self.path = pa, pq, path
        # a pyarrow.parquet.ParquetWriter from the first frame on; Any because pyarrow
        # ships no type information (see pyproject.toml)
        self.writer: Any | None = None

    def write(self, frame: pd.DataFrame) -> None:
        table = self.pa.Table.from_pandas(frame, preserve_index=False)
        if self.writer is None:
            self.writer = self.pq.ParquetWriter(self.path, table.schema)
        self.writer.write_table(table.cast(self.writer.schema))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _write_xlsx(path: Path, table: str, frame: pd.DataFrame) -> None:
    try:
        from openpyxl import Workbook
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError("Excel output needs openpyxl, which is not installed") from exc
    book = Workbook(write_only=True)
    sheet = book.create_sheet(table)
    sheet.append(list(frame.columns))
    columns: list[list[Any]] = []
    for col in SCHEMAS[table].columns:
        values = frame[col.name]
        if col.type == "date":
            # real date cells where the text parses; the planted local formats stay text
            parsed = (
                values
                if pd.api.types.is_datetime64_any_dtype(values)
                else pd.to_datetime(values, format="ISO8601", errors="coerce")
            )
            cells = [
                p.date() if not pd.isna(p) else (v if isinstance(v, str) else None)
                for p, v in zip(parsed, values, strict=True)
            ]
        else:
            cells = [
                None if pd.isna(v) else (v.item() if hasattr(v, "item") else v) for v in values
            ]
        columns.append(cells)
    for row in zip(*columns, strict=True):
        sheet.append(list(row))
    book.save(path)


def write_company(
    config: CompanyConfig | Company,
    folder: Path,
    formats: Iterable[str] = ("csv",),
    truth_file: str | None = "_truth.json",
) -> WrittenCompany:
    """Generate the company and write every table in ``formats`` into ``folder``.

    ``truth_file`` (relative to the folder; None to skip) receives the ground truth as
    JSON. Keep it out of what a pipeline ingests: it is the answer key.
    """
    formats = tuple(formats)
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown formats {sorted(unknown)}; known: {FORMATS}")
    company = config if isinstance(config, Company) else generate(config)
    folder.mkdir(parents=True, exist_ok=True)
    result = WrittenCompany(folder, company.truth)
    started: set[str] = set()
    parquet: dict[str, _ParquetSink] = {}
    try:
        for chunk in company.chunks():
            table, frame = chunk.table, chunk.frame
            first = table not in started
            started.add(table)
            files = result.files.setdefault(table, [])
            if "csv" in formats:
                path = folder / f"{table}.csv"
                dirty: set[tuple[int | str, ...]] = set()
                if f"{table}.csv" == ENCODING_DIRT_FILE:
                    dirty = set(map(tuple, company.truth.keys(table, "wrong_encoding")))
                _write_csv(path, table, frame, first, dirty)
                files.append(path) if first else None
            if "jsonl" in formats:
                path = folder / f"{table}.jsonl"
                _write_jsonl(path, table, frame, first)
                files.append(path) if first else None
            if "parquet" in formats:
                if table not in parquet:
                    parquet[table] = _ParquetSink(folder / f"{table}.parquet")
                    files.append(folder / f"{table}.parquet")
                parquet[table].write(frame)
            if "xlsx" in formats and table in EXCEL_TABLES:
                if len(frame) > EXCEL_MAX_ROWS:
                    result.skipped[f"{table}.xlsx"] = f"{len(frame)} rows > {EXCEL_MAX_ROWS}"
                else:
                    path = folder / f"{table}.xlsx"
                    _write_xlsx(path, table, frame)
                    files.append(path)
    finally:
        for sink in parquet.values():
            sink.close()
    if truth_file:
        (folder / truth_file).write_text(
            json.dumps(company.truth.to_dict(), indent=1, sort_keys=True)
        )
    return result
