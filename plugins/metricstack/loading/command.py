"""`metricstack load FILE --table raw.x --key id`: the pipeline's loader, by hand.

With ``--declaration`` the file is typed and checked as that source declares; without
one, every column is loaded as text (see declarations.adhoc_source) under the key given.
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
from metricstack.loading.declarations import FORMATS, adhoc_source, load_source
from metricstack.loading.streams import open_stream


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path)
    parser.add_argument("--table", help="schema.table (default: the declaration's)")
    parser.add_argument("--key", help="primary key column(s), comma-separated")
    parser.add_argument("--format", choices=FORMATS, help="default: the file's extension")
    parser.add_argument("--declaration", type=Path, help="a dags/sources/*.yml to type by")
    parser.add_argument("--typing", choices=("auto", "server", "sql"), default="auto")
    parser.add_argument("--run-id", help="recorded in audit.loads (default: cli)")


def run(settings: Settings, args: argparse.Namespace) -> int:
    path: Path = args.file
    fmt = args.format or path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        print(f"metricstack load: give --format ({', '.join(FORMATS)})", file=sys.stderr)
        return 2
    try:
        if args.declaration:
            source = replace(load_source(args.declaration), format=fmt)
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
