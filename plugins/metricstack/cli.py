"""The `metricstack` command: the demo's lifecycle (`make demo|status|stop|reset`)."""

from __future__ import annotations

import argparse
import sys
import time

from metricstack.config import SAMPLE_BUCKET, Settings, load_settings
from metricstack.services import stack
from metricstack.services.processes import PortInUse
from metricstack.sources.database import mask_url

_T0 = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - _T0:6.1f}s] {message}", flush=True)


def _run_pipeline(settings: Settings, *, first: bool) -> bool:
    """``first``: the demo's run, the one the scheduler starts when the DAGs are unpaused."""
    from metricstack.pipeline.run import (
        client_for,
        enable_dags,
        last_success,
        run_once,
    )

    client = client_for(settings)
    had_runs = enable_dags(settings, client)
    if first and (done := last_success(client)):
        say(f"the pipeline already ran successfully ({done['dag_run_id']}); not running it again")
        return True
    say("running the pipeline: ingestion DAGs, then the transform DAG their assets trigger")
    # The scheduler starts one run when the DAGs are first unpaused; after that
    # (a re-run, or a demo whose first run failed) a new run is triggered.
    trigger = not first or had_runs
    ok = True
    for outcome in run_once(settings, client, trigger=trigger):
        detail = f" (failed: {', '.join(outcome.failed_tasks)})" if outcome.failed_tasks else ""
        say(f"  {outcome.dag_id} {outcome.run_id}: {outcome.state}{detail}")
        ok = ok and outcome.state == "success"
    return ok


def _print_access(settings: Settings) -> None:
    password = settings.admin_password
    print(
        f"""
metricstack is running (local demo logins; generated on this machine, kept in
{settings.secrets_file}):

  Airflow   {settings.airflow_url}   user {settings.admin_user}  password {password}
  Superset  {settings.superset_url}/superset/dashboard/revenue/
            user {settings.admin_user}  password {password}
{_demo_logins(settings)}

  sample company's sources (what the ingestion DAGs read):
  shop db   {mask_url(settings.shop_reader_url)}
  CRM API   {settings.crm_url}   S3 (moto) {settings.s3_url}/{SAMPLE_BUCKET}
  landing   {settings.landing_dir}

  logs      {settings.logs_dir}
  `make status` shows what runs, `make stop` stops it, `make reset` wipes the state.
""",
        flush=True,
    )


def _demo_logins(settings: Settings) -> str:
    """One line per Superset demo role (they share the demo password)."""
    from metricstack.superset import demo_logins

    logins = demo_logins(settings)
    if not logins:
        return ""
    lines = ["            demo users (password " + logins[0].password + "):"]
    lines += [f"              {login.username:<16} {', '.join(login.roles)}" for login in logins]
    return "\n".join(lines)


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    stack.check_ports(settings)
    stack.setup(settings, say)
    stack.start(settings, say)
    ok = _run_pipeline(settings, first=True)
    _print_access(settings)
    if not ok:
        say("the pipeline failed: open Airflow (above) for the failed task's log")
    return 0 if ok else 1


def cmd_setup(settings: Settings, args: argparse.Namespace) -> int:
    stack.setup(settings, say)
    return 0


def cmd_up(settings: Settings, args: argparse.Namespace) -> int:
    stack.check_ports(settings)
    stack.setup(settings, say)
    stack.start(settings, say)
    _print_access(settings)
    return 0


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    return 0 if _run_pipeline(settings, first=False) else 1


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    rows = stack.status(settings)
    for row in rows:
        state = f"running (pid {row.pid})" if row.pid else "stopped"
        print(f"{row.name:<24} {state:<22} {row.where}")
    return 0


def cmd_stop(settings: Settings, args: argparse.Namespace) -> int:
    stack.stop(settings, say)
    return 0


def cmd_reset(settings: Settings, args: argparse.Namespace) -> int:
    stack.reset(settings, say)
    return 0


def cmd_superset_export(settings: Settings, args: argparse.Namespace) -> int:
    from metricstack.superset import export

    return export.run(settings, args)


def cmd_load(settings: Settings, args: argparse.Namespace) -> int:
    from metricstack.loading import command

    return command.run(settings, args)


COMMANDS = {
    "demo": (cmd_demo, "set up, start everything, run the pipeline once, print the URLs"),
    "setup": (cmd_setup, "create the databases, roles, metadata and the sample sources' data"),
    "up": (cmd_up, "set up and start the sample sources, Airflow and Superset"),
    "run": (cmd_run, "run the pipeline once now and wait for it"),
    "status": (cmd_status, "what runs, where"),
    "stop": (cmd_stop, "stop everything the demo started"),
    "reset": (cmd_reset, "stop, then delete the state folder"),
    "load": (cmd_load, "load a CSV, JSON lines, Parquet or Excel file into a raw table"),
    "superset-export": (
        cmd_superset_export,
        "write the live Superset dashboards into superset_config/assets, for review",
    ),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="metricstack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (_, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text)
        if name == "load":
            from metricstack.loading.command import add_arguments

            add_arguments(command_parser)
        elif name == "superset-export":
            from metricstack.superset.export import add_arguments as export_arguments

            export_arguments(command_parser)
    args = parser.parse_args(argv)
    settings = load_settings()
    try:
        return COMMANDS[args.command][0](settings, args)
    except PortInUse as error:
        print(f"metricstack: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
