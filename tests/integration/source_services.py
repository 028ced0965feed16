"""The sample company's CRM API and S3 as the stack runs them, for tests: each started
with the stack's own command in a subprocess on a free port, and stopped after."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from support import free_port

from metricstack.sample_company.systems.crm_api import TOKEN_ENV, crm_service_command
from metricstack.sample_company.systems.s3_drops import moto_service_command


def _wait_for(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            if proc.poll() is not None:
                raise RuntimeError(f"the service for {url} exited with {proc.returncode}") from None
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer in {timeout} s") from None
            time.sleep(0.1)


@contextmanager
def _serving(command: list[str], env: dict[str, str], url: str, log: Path) -> Iterator[str]:
    with log.open("wb") as handle:
        proc = subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT)
    try:
        _wait_for(url, proc)
        yield url.rsplit("/", 1)[0] if url.endswith("/health") else url
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def serve_crm(data_dir: Path, token: str, log: Path, rate_limit: float = 1000) -> Iterator[str]:
    """The CRM API over ``data_dir`` (prepare_crm_data's); its base URL."""
    port = free_port()
    command = crm_service_command("127.0.0.1", port, data_dir, rate_limit_per_second=rate_limit)
    env = dict(os.environ, **{TOKEN_ENV: token})
    with _serving(command, env, f"http://127.0.0.1:{port}/health", log) as url:
        yield url


@contextmanager
def serve_s3(log: Path) -> Iterator[str]:
    """moto's S3 server (in memory: empty at every start); its endpoint URL."""
    port = free_port()
    command = moto_service_command("127.0.0.1", port)
    with _serving(command, dict(os.environ), f"http://127.0.0.1:{port}", log) as url:
        yield url
