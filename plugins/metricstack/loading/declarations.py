"""Source declarations: the YAML files in ``dags/sources/`` read into typed objects."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

# PostgreSQL types a declaration may use (parameters such as numeric(18,2) allowed).
_TYPES = re.compile(
    r"^(bigint|integer|smallint|numeric(\(\d+,\s*\d+\))?|text|boolean|date|timestamptz)$"
)
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
# File formats the loader reads (streams.py); csv is streamed as it is, the others
# are converted record by record into the same COPY stream.
FORMATS = ("csv", "jsonl", "parquet", "xlsx")


class DeclarationError(ValueError):
    pass


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = True
    description: str = ""


@dataclass(frozen=True)
class Source:
    name: str
    description: str
    kind: str
    pattern: str
    format: str
    schema: str
    table: str
    primary_key: tuple[str, ...]
    columns: tuple[Column, ...]
    path: Path

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _require(cond: bool, path: Path, message: str) -> None:
    if not cond:
        raise DeclarationError(f"{path}: {message}")


def load_source(path: Path) -> Source:
    data = yaml.safe_load(path.read_text())
    _require(isinstance(data, dict), path, "a source declaration is a mapping")
    for key in ("name", "kind", "table", "primary_key", "columns"):
        _require(key in data, path, f"missing field '{key}'")
    _require(data["kind"] == "files", path, f"kind '{data['kind']}' is not supported yet (files)")
    files = data.get("files") or {}
    _require("pattern" in files, path, "missing field 'files.pattern'")
    _require(files.get("format", "csv") in FORMATS, path, f"files.format must be one of {FORMATS}")
    schema, _, table = str(data["table"]).rpartition(".")
    _require(bool(schema) and bool(_IDENTIFIER.match(table)), path, "table must be schema.table")
    columns = []
    for name, spec in data["columns"].items():
        spec = spec if isinstance(spec, dict) else {"type": spec}
        _require(
            bool(_IDENTIFIER.match(name)), path, f"column '{name}' is not a lower-case identifier"
        )
        _require(
            bool(_TYPES.match(str(spec.get("type", "")))),
            path,
            f"column '{name}': unsupported type {spec.get('type')!r}",
        )
        columns.append(
            Column(
                name, spec["type"], bool(spec.get("nullable", True)), spec.get("description", "")
            )
        )
    names = {c.name for c in columns}
    primary_key = tuple(data["primary_key"])
    for key in primary_key:
        _require(key in names, path, f"primary key column '{key}' is not among the columns")
    return Source(
        name=data["name"],
        description=data.get("description", ""),
        kind=data["kind"],
        pattern=files["pattern"],
        format=files.get("format", "csv"),
        schema=schema,
        table=table,
        primary_key=primary_key,
        columns=tuple(columns),
        path=path,
    )


def load_sources(folder: Path) -> list[Source]:
    return [load_source(p) for p in sorted(folder.glob("*.yml"))]


def adhoc_source(
    table: str, primary_key: tuple[str, ...], header: tuple[str, ...], fmt: str
) -> Source:
    """A source for a one-off load without a declaration: every column text.

    Guessing types from a sample is how ad-hoc loaders go wrong on row 1,000,001; text
    loads whatever the file holds, and the types belong in the dbt staging model.
    """
    schema, _, name = table.rpartition(".")
    where = Path(f"<{table}>")
    _require(bool(schema) and bool(_IDENTIFIER.match(name)), where, "table must be schema.table")
    for column in header:
        _require(bool(_IDENTIFIER.match(column)), where, f"column '{column}' is not an identifier")
    for key in primary_key:
        _require(key in header, where, f"primary key column '{key}' is not in the file")
    columns = tuple(Column(c, "text", nullable=c not in primary_key) for c in header)
    return Source(name, "", "files", "", fmt, schema, name, primary_key, columns, where)
