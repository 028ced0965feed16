"""`metricstack load FILE --table raw.x --key id`: the pipeline's loader, by hand.

With ``--declaration`` (and ``--object`` when the declaration has several) the file is
typed and checked as that object is declared; without one, every column is loaded as
text (see declarations.adhoc_source) under the key given.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

import psycopg

from metricstack.config import Settings
from metricstack.loading.copy_loader import FileFormatError, load_file
from metricstack.loading.declarations import (
    FORMATS,
    DeclarationError,
    Source,
    adhoc_source,
    load_system,
)
from metricstack.loading.streams import open_stream


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path)
    parser.add_argument("--table", help="schema.table (default: the declaration's)")
    parser.add_argument("--key", help="primary key column(s), comma-separated")
    parser.add_argument("--format", choices=FORMATS, help="default: the file's extension")
    parser.add_argument("--declaration", type=Path, help="a dags/sources/*.yml to type by")
    parser.add_argument("--object", help="which object of the declaration (if several)")
    parser.add_argument("--typing", choices=("auto", "server", "sql"), default="auto")
    parser.add_argument("--run-id", help="recorded in audit.loads (default: cli)")


def _declared(path: Path, name: str | None) -> Source:
    system = load_system(path)
    objects = {s.object: s for s in system.objects}
    if name is None and len(objects) == 1:
        return next(iter(objects.values()))
    if name not in objects:
        raise DeclarationError(f"{path}: give --object, one of {sorted(objects)}")
    return objects[name]


def run(settings: Settings, args: argparse.Namespace) -> int:
    path: Path = args.file
    fmt = args.format or path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        print(f"metricstack load: give --format ({', '.join(FORMATS)})", file=sys.stderr)
        return 2
    try:
        if args.declaration:
            source = replace(_declared(args.declaration, args.object), format=fmt)
            if args.table:
                schema, _, table = args.table.rpartition(".")
                source = replace(source, schema=schema, table=table)
        else:
            if not (args.table and args.key):
                print("metricstack load: give --table and --key, or --declaration", file=sys.stderr)
                return 2
            header = open_stream(path, fmt, ()).header
            source = adhoc_source(args.table, tuple(args.key.split(",")), header, fmt)
        with psycopg.connect(settings.role_url("loader")) as conn:
            result = load_file(conn, source, path, args.run_id or "cli", typing=args.typing)
    except (FileFormatError, ValueError) as error:
        print(f"metricstack load: {error}", file=sys.stderr)
        return 1
    print(json.dumps(asdict(result), indent=2))
    return 0
