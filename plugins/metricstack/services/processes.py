"""Background processes of the local stack, tracked by the pid files they leave.

Each process runs in its own session (process group) with its output in
``<state>/logs/<name>.log`` and its pid in ``<state>/run/<name>.pid``, so that
``metricstack stop`` ends exactly what ``metricstack up`` started, children included.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from metricstack.config import Settings


class PortInUse(RuntimeError):
    pass


@dataclass(frozen=True)
class Service:
    name: str
    command: Sequence[str]
    env: Mapping[str, str]
    port: int | None = None
    cwd: Path | None = None


def pid_file(settings: Settings, name: str) -> Path:
    return settings.run_dir / f"{name}.pid"


def log_file(settings: Settings, name: str) -> Path:
    return settings.logs_dir / f"{name}.log"


def running_pid(settings: Settings, name: str) -> int | None:
    path = pid_file(settings, name)
    if not path.exists():
        return None
    pid = int(path.read_text().strip() or 0)
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        path.unlink(missing_ok=True)
        return None
    return pid


def port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def ensure_port_free(host: str, port: int, what: str, setting: str) -> None:
    if port_open(host, port):
        raise PortInUse(
            f"port {port} on {host} is already in use, so {what} cannot listen there. "
            f"Stop whatever holds it (`metricstack status` shows this stack's processes), "
            f"or choose another port: {setting}=<port> make demo"
        )


def start(settings: Settings, service: Service, port_setting: str = "") -> int:
    """Start ``service`` unless it runs already; returns its pid."""
    pid = running_pid(settings, service.name)
    if pid:
        return pid
    if service.port:
        ensure_port_free(settings.host, service.port, service.name, port_setting)
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    with log_file(settings, service.name).open("ab") as log:
        proc = subprocess.Popen(
            list(service.command),
            env=dict(service.env),
            cwd=service.cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    pid_file(settings, service.name).write_text(str(proc.pid))
    return proc.pid


def stop(settings: Settings, name: str, timeout: float = 30) -> bool:
    """Stop a service and its children; True if it was running."""
    pid = running_pid(settings, name)
    if not pid:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # a service this process started stays a zombie (alive to killpg) until reaped
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    pid_file(settings, name).unlink(missing_ok=True)
    return True


def wait_until(
    check: Callable[[], bool], what: str, timeout: float, settings: Settings, name: str
) -> None:
    """Wait for ``check``; fail with the service's log tail if it dies or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if not running_pid(settings, name):
            raise RuntimeError(f"{name} exited before {what}.\n{log_tail(settings, name)}")
        time.sleep(1)
    raise TimeoutError(f"{name}: no {what} after {timeout:.0f} s.\n{log_tail(settings, name)}")


def log_tail(settings: Settings, name: str, lines: int = 30) -> str:
    path = log_file(settings, name)
    if not path.exists():
        return f"(no log at {path})"
    tail = path.read_text(errors="replace").splitlines()[-lines:]
    return f"last lines of {path}:\n" + "\n".join(tail)
