"""Source declarations: the YAML files in ``dags/sources/`` read into typed objects.

One file declares one source system (a database, a REST API, an S3 bucket, a landing
folder) and its objects (tables, resources, key prefixes, file patterns). Each object is
the loader's contract (``Source``): where it is read from, the raw table it lands in
(``raw.<system>_<object>`` unless ``into`` says otherwise), its primary key, and every
column with its type. Adding a table, an endpoint or a file drop is a few lines here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# PostgreSQL types a declaration may use (parameters such as numeric(18,2) allowed).
_TYPES = re.compile(
    r"^(bigint|integer|smallint|numeric(\(\d+,\s*\d+\))?|text|boolean|date|timestamptz)$"
)
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
# File formats the loader reads (streams.py); csv is streamed as it is, the others
# are converted record by record into the same COPY stream.
FORMATS = ("csv", "jsonl", "parquet", "xlsx")
# kind -> the object field that says where it is read from, and its default
KINDS: dict[str, str] = {
    "database": "from_table",  # a table (schema.table) of the database; default: the object
    "http": "resource",  # the API resource; default: the object's name
    "s3": "prefix",  # the key prefix of the daily drops; default: "<object>/"
    "files": "pattern",  # a glob under the landing folder; required
}
# What a system's connection is: an Airflow connection id; files need none.
_NEEDS_CONNECTION = {"database", "http", "s3"}
_INCREMENTAL = {"database", "http"}


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
    """One declared object: what the loader reads, checks and lands in one raw table."""

    name: str  # <system>_<object>: the audit trail's and the asset's name
    description: str
    kind: str
    location: str  # a table, a resource, a key prefix or a file pattern (see KINDS)
    format: str
    schema: str
    table: str
    primary_key: tuple[str, ...]
    columns: tuple[Column, ...]
    path: Path
    system: str = ""
    object: str = ""
    incremental_key: str | None = None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


@dataclass(frozen=True)
class SourceSystem:
    """One declaration file: a system, how to reach it, and its objects."""

    name: str
    description: str
    kind: str
    connection: str | None  # an Airflow connection id
    bucket: str | None
    lookback_minutes: int
    objects: tuple[Source, ...]
    path: Path


def _require(cond: bool, path: Path, message: str) -> None:
    if not cond:
        raise DeclarationError(f"{path}: {message}")


def _columns(path: Path, where: str, spec: Any) -> tuple[Column, ...]:
    _require(isinstance(spec, dict) and bool(spec), path, f"{where}: 'columns' is a mapping")
    columns = []
    for name, column in spec.items():
        column = column if isinstance(column, dict) else {"type": column}
        _require(
            bool(_IDENTIFIER.match(str(name))),
            path,
            f"{where}: column '{name}' is not a lower-case identifier",
        )
        _require(
            bool(_TYPES.match(str(column.get("type", "")))),
            path,
            f"{where}: column '{name}': unsupported type {column.get('type')!r}",
        )
        columns.append(
            Column(
                name,
                column["type"],
                bool(column.get("nullable", True)),
                column.get("description", ""),
            )
        )
    return tuple(columns)


def _object(path: Path, system: dict[str, Any], name: str, spec: Any, kind: str) -> Source:
    where = f"object '{name}'"
    _require(bool(_IDENTIFIER.match(str(name))), path, f"{where}: not a lower-case identifier")
    _require(isinstance(spec, dict), path, f"{where}: an object is a mapping")
    for key in ("primary_key", "columns"):
        _require(key in spec, path, f"{where}: missing field '{key}'")
    columns = _columns(path, where, spec["columns"])
    names = {c.name for c in columns}
    primary_key = tuple(spec["primary_key"])
    for key in primary_key:
        _require(key in names, path, f"{where}: primary key column '{key}' is not a column")
    field = KINDS[kind]
    default = {"database": name, "http": name, "s3": f"{name}/", "files": None}[kind]
    location = spec.get(field, default)
    _require(location is not None, path, f"{where}: missing field '{field}'")
    fmt = spec.get("format", "csv")
    _require(fmt in FORMATS, path, f"{where}: format must be one of {FORMATS}")
    into = str(spec.get("into", f"raw.{system['name']}_{name}"))
    schema, _, table = into.rpartition(".")
    _require(
        bool(schema) and bool(_IDENTIFIER.match(table)), path, f"{where}: into is schema.table"
    )
    key = spec.get("incremental_key", system.get("incremental_key"))
    if kind in _INCREMENTAL:
        _require(key is not None, path, f"{where}: a {kind} object needs an incremental_key")
        _require(key in names, path, f"{where}: incremental key '{key}' is not a column")
    return Source(
        name=f"{system['name']}_{name}",
        description=spec.get("description", ""),
        kind=kind,
        location=str(location),
        # a database extract and an API's pages reach the loader as CSV and JSON lines
        format={"database": "csv", "http": "jsonl"}.get(kind, fmt),
        schema=schema,
        table=table,
        primary_key=primary_key,
        columns=columns,
        path=path,
        system=system["name"],
        object=name,
        incremental_key=key if kind in _INCREMENTAL else None,
    )


def load_system(path: Path) -> SourceSystem:
    data = yaml.safe_load(path.read_text())
    _require(isinstance(data, dict), path, "a source declaration is a mapping")
    for key in ("name", "kind", "objects"):
        _require(key in data, path, f"missing field '{key}'")
    _require(bool(_IDENTIFIER.match(str(data["name"]))), path, "name is a lower-case identifier")
    kind = data["kind"]
    _require(kind in KINDS, path, f"kind '{kind}' is not one of {sorted(KINDS)}")
    if kind in _NEEDS_CONNECTION:
        _require("connection" in data, path, f"a {kind} source needs a 'connection'")
    if kind == "s3":
        _require("bucket" in data, path, "an s3 source needs a 'bucket'")
    objects = data["objects"]
    _require(isinstance(objects, dict) and bool(objects), path, "'objects' is a mapping")
    return SourceSystem(
        name=data["name"],
        description=data.get("description", ""),
        kind=kind,
        connection=data.get("connection"),
        bucket=data.get("bucket"),
        lookback_minutes=int(data.get("lookback_minutes", 0)),
        objects=tuple(_object(path, data, n, s, kind) for n, s in objects.items()),
        path=path,
    )


def load_systems(folder: Path) -> list[SourceSystem]:
    systems = [load_system(p) for p in sorted(folder.glob("*.yml"))]
    seen: dict[str, Path] = {}
    for system in systems:
        for source in system.objects:
            where = f"{source.schema}.{source.table}"
            if where in seen:
                raise DeclarationError(
                    f"{system.path}: {where} is also the raw table of {seen[where]}"
                )
            seen[where] = system.path
    return systems


def load_sources(folder: Path) -> list[Source]:
    """Every declared object of every system in ``folder``."""
    return [source for system in load_systems(folder) for source in system.objects]


def find_source(folder: Path, name: str) -> Source:
    """The object ``<system>_<object>`` (or ``<system>.<object>``) declared in ``folder``."""
    wanted = name.replace(".", "_", 1)
    sources = load_sources(folder)
    for source in sources:
        if source.name == wanted:
            return source
    raise DeclarationError(
        f"{folder}: no declared object {name!r}; declared: {[s.name for s in sources]}"
    )


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
