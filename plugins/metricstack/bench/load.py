"""`make bench-load`: one large CSV through the loader, psql \\copy, dlt and pandas.

TPC-H lineitem (tpchgen-cli, scale factor 1: 6,001,215 rows, 766 MB) is loaded by
each method into its own database of an embedded PostgreSQL this command starts.
Each method runs in its own process, timed from start to exit (interpreter start
included, as a user would wait for it); its peak memory is that process's maximum
resident set (VmHWM, polled), psql's own for psql.

Methods: ``loader`` (metricstack's, typing and quarantine on, into a raw table with
its primary key), ``psql`` (\\copy into a table without any index: the practical
ceiling), ``psql_pk`` (\\copy into the loader's table shape, primary key included),
``dlt`` (arrow batches, its CSV loader) and ``pandas`` (read_csv in chunks, to_sql).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from metricstack.config import Settings, load_settings, with_database
from metricstack.loading.declarations import Column, Source

METHODS = ("psql", "loader", "psql_pk", "dlt", "pandas")
COLUMNS = (
    ("l_orderkey", "bigint"),
    ("l_partkey", "bigint"),
    ("l_suppkey", "bigint"),
    ("l_linenumber", "integer"),
    ("l_quantity", "numeric(15,2)"),
    ("l_extendedprice", "numeric(15,2)"),
    ("l_discount", "numeric(15,2)"),
    ("l_tax", "numeric(15,2)"),
    ("l_returnflag", "text"),
    ("l_linestatus", "text"),
    ("l_shipdate", "date"),
    ("l_commitdate", "date"),
    ("l_receiptdate", "date"),
    ("l_shipinstruct", "text"),
    ("l_shipmode", "text"),
    ("l_comment", "text"),
)
KEY = ("l_orderkey", "l_linenumber")
TABLE_DDL = ", ".join(f"{name} {kind}" for name, kind in COLUMNS)


@dataclass(frozen=True)
class Outcome:
    method: str
    rows: int
    seconds: float
    peak_rss_mb: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


def lineitem_source() -> Source:
    columns = tuple(Column(n, t, nullable=n not in KEY) for n, t in COLUMNS)
    return Source(
        name="tpch_lineitem",
        description="",
        kind="files",
        location="lineitem.csv",
        format="csv",
        schema="raw",
        table="lineitem",
        primary_key=KEY,
        columns=columns,
        path=Path("<bench>"),
    )


def generate(folder: Path, scale: float) -> Path:
    """lineitem.csv at ``scale``, made once and reused (tpchgen-cli is deterministic)."""
    path = folder / f"sf{scale:g}" / "lineitem.csv"
    if not path.exists():
        tpchgen = Path(sys.executable).with_name("tpchgen-cli")
        subprocess.run(
            [str(tpchgen), "csv", "-s", f"{scale:g}", "-T", "lineitem", "-o", str(path.parent)],
            check=True,
        )
    return path


# --- each method, run in a child process (`python -m metricstack.bench.load --child`)


def _child_loader(url: str, path: Path) -> None:
    from metricstack.loading.copy_loader import load_file

    with psycopg.connect(url) as conn:
        load_file(conn, lineitem_source(), path, "bench")


def _child_dlt(url: str, path: Path) -> None:
    import dlt
    import pyarrow.csv as pacsv

    def batches():  # type: ignore[no-untyped-def]  # dlt's resources are untyped
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=8 << 20))
        yield from reader

    credentials = psycopg.conninfo.conninfo_to_dict(url)
    # dlt insists on a password; a server on trust authentication ignores it
    credentials.setdefault("password", "unused")
    pipeline = dlt.pipeline(
        pipeline_name="bench",
        destination=dlt.destinations.postgres(
            credentials={
                "database": credentials["dbname"],
                "username": credentials["user"],
                "password": credentials["password"],
                "host": credentials["host"],
                "port": int(str(credentials.get("port", 5432))),
            }
        ),
        dataset_name="dlt_bench",
        pipelines_dir=os.environ["BENCH_WORKDIR"],
    )
    pipeline.run(
        dlt.resource(batches, name="lineitem"), loader_file_format="csv", write_disposition="append"
    )


def _child_pandas(url: str, path: Path) -> None:
    import pandas as pd
    import sqlalchemy

    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    for frame in pd.read_csv(path, chunksize=100_000):
        frame.to_sql("lineitem", engine, if_exists="append", index=False, chunksize=10_000)


_CHILDREN = {"loader": _child_loader, "dlt": _child_dlt, "pandas": _child_pandas}


# --- the parent: a server, a database per method, timing and memory


def _prepare(admin_url: str, method: str) -> str:
    """A fresh database for ``method``, with the tables it loads into."""
    name = f"bench_{method}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = with_database(admin_url, name)
    with psycopg.connect(url, autocommit=True) as conn:
        if method == "loader":
            conn.execute("create schema raw; create schema audit")
            audit = Path(__file__).parents[1] / "warehouse" / "audit.sql"
            conn.execute(audit.read_text())
        elif method == "psql":
            conn.execute(f"create table lineitem ({TABLE_DDL})")
        elif method == "psql_pk":
            conn.execute(f"create table lineitem ({TABLE_DDL}, primary key ({', '.join(KEY)}))")
    return url


def _command(method: str, url: str, path: Path) -> list[str]:
    if method in ("psql", "psql_pk"):
        from metricstack.services.postgres import _bin_dir

        copy = f"\\copy lineitem from '{path}' (format csv, header)"
        return [str(_bin_dir() / "psql"), "-X", "-v", "ON_ERROR_STOP=1", "-c", copy, url]
    return [sys.executable, "-m", "metricstack.bench.load", "--child", method, url, str(path)]


def _count(url: str, method: str) -> int:
    schema = {"loader": "raw", "dlt": "dlt_bench"}.get(method, "public")
    query = sql.SQL("select count(*) from {}.lineitem").format(sql.Identifier(schema))
    with psycopg.connect(url) as conn:
        row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


def run_method(admin_url: str, method: str, path: Path, workdir: Path) -> Outcome:
    url = _prepare(admin_url, method)
    env = {
        **os.environ,
        "BENCH_WORKDIR": str(workdir),
        "PYTHONPATH": str(Path(__file__).parents[2]),
    }
    started = time.perf_counter()
    with tempfile.TemporaryFile() as output:
        child = subprocess.Popen(_command(method, url, path), stdout=output, stderr=output, env=env)
        peak_kb = 0
        while child.poll() is None:
            peak_kb = max(peak_kb, _high_water_kb(child.pid))
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        if child.returncode != 0:
            output.seek(0)
            raise RuntimeError(f"{method} failed:\n{output.read().decode()[-3000:]}")
    return Outcome(method, _count(url, method), seconds, peak_kb / 1024)


def _high_water_kb(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM), 0 once it is gone.

    Read from /proc rather than getrusage: a forked child's ru_maxrss also counts the
    parent's memory it carried until exec, which would put ~40 MB under psql.
    """
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _server(settings: Settings) -> str:
    from metricstack.services import postgres

    settings.ensure_secrets()
    postgres.initialise(settings)
    postgres.start(settings)
    return with_database(settings.warehouse_url, "postgres")


def report(outcomes: list[Outcome], file_rows: int) -> str:
    base = next((o for o in outcomes if o.method == "psql"), None)
    lines = [
        f"{'method':<8} {'rows':>10} {'seconds':>8} {'rows/s':>10} {'peak MB':>8} {'vs psql':>8}"
    ]
    for o in outcomes:
        ratio = f"{o.rows_per_second / base.rows_per_second:7.0%}" if base else "-"
        lines.append(
            f"{o.method:<8} {o.rows:>10,} {o.seconds:>8.1f} {o.rows_per_second:>10,.0f} "
            f"{o.peak_rss_mb:>8.0f} {ratio:>8}"
        )
    lines.append(f"(the file holds {file_rows:,} rows; targets: loader >= 80% of psql, < 300 MB)")
    return "\n".join(lines)


def run_bench(
    scale: float, methods: tuple[str, ...], workdir: Path, admin_url: str | None = None
) -> list[Outcome]:
    path = generate(workdir / "tpch", scale)
    with path.open("rb") as handle:
        file_rows = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b"")) - 1
    settings = load_settings(
        {"METRICSTACK_STATE_DIR": str(workdir / "server"), "METRICSTACK_PG_PORT": _free_port()}
    )
    url = admin_url or _server(settings)
    try:
        outcomes = []
        for method in methods:
            outcome = run_method(url, method, path, workdir)
            print(
                f"{method}: {outcome.rows:,} rows in {outcome.seconds:.1f} s, "
                f"peak {outcome.peak_rss_mb:.0f} MB",
                flush=True,
            )
            outcomes.append(outcome)
    finally:
        if admin_url is None:
            from metricstack.services import postgres

            postgres.stop(settings)
    print(report(outcomes, file_rows))
    results = workdir / "results.json"
    results.write_text(
        json.dumps(
            [{**asdict(o), "rows_per_second": o.rows_per_second} for o in outcomes], indent=2
        )
    )
    return outcomes


def _free_port() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="metricstack.bench.load", description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="TPC-H scale factor")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--workdir", type=Path, default=load_settings().state_dir / "bench")
    parser.add_argument("--child", nargs=3, metavar=("METHOD", "URL", "FILE"), help="internal")
    args = parser.parse_args(argv)
    if args.child:
        method, url, file = args.child
        _CHILDREN[method](url, Path(file))
        return 0
    args.workdir.mkdir(parents=True, exist_ok=True)
    run_bench(args.scale, tuple(args.methods.split(",")), args.workdir.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
