"""The CRM API and its extractor against real servers: the service command in a
subprocess, and uvicorn in a thread for the apps with tight limits or injected failures."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx
import pandas as pd
import pytest
import uvicorn
from starlette.applications import Starlette
from support import free_port

from metricstack.sample_company.config import CompanyConfig
from metricstack.sample_company.generator import generate
from metricstack.sample_company.systems.crm_api import (
    RESOURCES,
    TOKEN_ENV,
    create_app,
    crm_service_command,
    prepare_crm_data,
)
from metricstack.sources.errors import SourceDataError, TransientSourceError
from metricstack.sources.http_api import extract_endpoint

TOKEN = "test-token-5f2c"


def wait_for(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer in {timeout} s")


@contextmanager
def serve(app: Starlette) -> Iterator[str]:
    """uvicorn serving ``app`` in a thread on a free port; its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(f"http://127.0.0.1:{port}/health")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def crm(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, pd.DataFrame]]:
    """The CRM's data folder for a small company, and the generator's rows."""
    company = generate(CompanyConfig(orders=1000))
    data_dir = tmp_path_factory.mktemp("crm") / "data"
    counts = prepare_crm_data(company, data_dir)
    parts: dict[str, list[pd.DataFrame]] = {}
    for chunk in company.chunks():
        if chunk.table in RESOURCES:
            parts.setdefault(chunk.table, []).append(chunk.frame)
    frames = {name: pd.concat(p, ignore_index=True) for name, p in parts.items()}
    assert counts == {name: len(frame) for name, frame in frames.items()}
    return data_dir, frames


@pytest.fixture(scope="module")
def crm_service(
    crm: tuple[Path, dict[str, pd.DataFrame]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The CRM as the stack runs it: crm_service_command in its own process."""
    port = free_port()
    env = dict(os.environ, **{TOKEN_ENV: TOKEN})
    log = tmp_path_factory.mktemp("crm-log") / "crm.log"
    with log.open("wb") as handle:
        proc = subprocess.Popen(
            crm_service_command("127.0.0.1", port, crm[0], rate_limit_per_second=1000),
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(f"http://127.0.0.1:{port}/health")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
    text = log.read_text()
    assert "GET /v1/funnel_events" in text and TOKEN not in text  # logged, without the token


def _ids(path: Path, id_column: str) -> list[int]:
    with path.open() as handle:
        return [json.loads(line)[id_column] for line in handle]


def _checksum(ids: list[int]) -> str:
    return hashlib.sha256(",".join(map(str, sorted(ids))).encode()).hexdigest()


@pytest.mark.parametrize("resource", sorted(RESOURCES))
def test_full_extraction_equals_the_generator(
    crm: tuple[Path, dict[str, pd.DataFrame]], crm_service: str, tmp_path: Path, resource: str
) -> None:
    frame = crm[1][resource]
    id_column = RESOURCES[resource].id_column
    path = tmp_path / f"{resource}.jsonl"
    extract = extract_endpoint(crm_service, resource, TOKEN, path, since=None, page_size=1000)
    assert extract.path == path and extract.bytes == path.stat().st_size
    assert extract.rows == len(frame)  # planted duplicates included
    ids = _ids(path, id_column)
    assert _checksum(ids) == _checksum(frame[id_column].tolist())
    first = json.loads(path.read_text().splitlines()[0])
    assert list(first) == [*frame.columns, "updated_at"]
    stamps = [json.loads(line)["updated_at"] for line in path.read_text().splitlines()]
    assert stamps == sorted(stamps) and extract.max_key == stamps[-1]
    assert not list(tmp_path.glob("*.part"))


def test_incremental_windows_split_the_rows_exactly(crm_service: str, tmp_path: Path) -> None:
    full = extract_endpoint(
        crm_service, "support_tickets", TOKEN, tmp_path / "all.jsonl", since=None
    )
    lines = (tmp_path / "all.jsonl").read_text().splitlines(keepends=True)
    mark = datetime.fromisoformat(json.loads(lines[len(lines) // 2])["updated_at"])
    before = extract_endpoint(
        crm_service, "support_tickets", TOKEN, tmp_path / "a.jsonl", since=None, until=mark
    )
    after = extract_endpoint(
        crm_service, "support_tickets", TOKEN, tmp_path / "b.jsonl", since=mark
    )
    assert 0 < after.rows < full.rows and before.rows + after.rows == full.rows
    # since exclusive, until inclusive: the two windows are the whole, in order, no overlap
    joined = (tmp_path / "a.jsonl").read_bytes() + (tmp_path / "b.jsonl").read_bytes()
    assert joined == (tmp_path / "all.jsonl").read_bytes()
    newer = [json.loads(line)["updated_at"] for line in (tmp_path / "b.jsonl").open()]
    assert all(datetime.fromisoformat(s) > mark for s in newer)
    assert after.max_key == full.max_key
    # nothing after the newest mark: an empty file and no new mark
    assert full.max_key is not None
    nothing = extract_endpoint(
        crm_service,
        "support_tickets",
        TOKEN,
        tmp_path / "none.jsonl",
        since=datetime.fromisoformat(full.max_key),
    )
    assert (nothing.rows, nothing.max_key, nothing.pages) == (0, None, 1)
    # a re-run of a window (a backfill) gives the same file
    again = extract_endpoint(
        crm_service, "support_tickets", TOKEN, tmp_path / "a2.jsonl", since=None, until=mark
    )
    assert again.rows == before.rows
    assert (tmp_path / "a2.jsonl").read_bytes() == (tmp_path / "a.jsonl").read_bytes()


def test_small_pages_give_the_same_file_as_one_big_page(crm_service: str, tmp_path: Path) -> None:
    big = extract_endpoint(
        crm_service, "funnel_events", TOKEN, tmp_path / "big.jsonl", since=None, page_size=100_000
    )
    small = extract_endpoint(
        crm_service, "funnel_events", TOKEN, tmp_path / "small.jsonl", since=None, page_size=333
    )
    assert big.pages == -(-big.rows // 1000)  # the server caps pages at 1000 rows
    assert small.pages == -(-big.rows // 333) > 20
    assert (tmp_path / "small.jsonl").read_bytes() == (tmp_path / "big.jsonl").read_bytes()


def test_rate_limit_answers_429_that_the_extractor_waits_out(
    crm: tuple[Path, dict[str, pd.DataFrame]], tmp_path: Path
) -> None:
    app = create_app(crm[0], TOKEN, rate_limit_per_second=5)
    with serve(app) as url:
        started = time.monotonic()
        extract = extract_endpoint(
            url, "support_tickets", TOKEN, tmp_path / "t.jsonl", since=None, page_size=7
        )
        took = time.monotonic() - started
    assert extract.rows == len(crm[1]["support_tickets"])
    assert extract.pages == -(-extract.rows // 7) >= 15
    stats = app.state.stats
    assert extract.throttled == stats.throttled > 0
    assert stats.served == extract.pages
    # 5 requests per second with a burst of 5: about (pages - 5) / 5 seconds
    assert (extract.pages - 5) / 5 - 1 < took < (extract.pages - 5) / 5 + 4


def test_wrong_token_fails_at_once_naming_the_endpoint(crm_service: str, tmp_path: Path) -> None:
    secret = "wrong-token-9d1e"
    path = tmp_path / "f.jsonl"
    started = time.monotonic()
    with pytest.raises(SourceDataError) as failure:
        extract_endpoint(crm_service, "funnel_events", secret, path, since=None)
    assert time.monotonic() - started < 2
    message = str(failure.value)
    assert f"{crm_service}/v1/funnel_events" in message and "401" in message
    assert "unauthorized" in message and secret not in message and TOKEN not in message
    assert not path.exists() and not list(tmp_path.iterdir())


def test_bad_requests_fail_naming_the_reason(crm_service: str, tmp_path: Path) -> None:
    with pytest.raises(SourceDataError, match=r"/v1/leads .*404 not_found: unknown resource"):
        extract_endpoint(crm_service, "leads", TOKEN, tmp_path / "x.jsonl", since=None)
    answer = httpx.get(
        f"{crm_service}/v1/funnel_events",
        params={"updated_since": "2024-01-01T00:00:00"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert answer.status_code == 400 and "time zone" in answer.json()["message"]
    with pytest.raises(ValueError, match="time zone"):
        extract_endpoint(
            crm_service, "funnel_events", TOKEN, tmp_path / "x.jsonl", since=datetime(2024, 1, 1)
        )


def test_server_errors_are_retried_with_backoff(
    crm: tuple[Path, dict[str, pd.DataFrame]], tmp_path: Path
) -> None:
    app = create_app(crm[0], TOKEN, fail_first_n_requests=2)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    with serve(app) as url:
        extract = extract_endpoint(
            url,
            "nps_responses",
            TOKEN,
            tmp_path / "n.jsonl",
            since=None,
            backoff_seconds=0.05,
            sleep=sleep,
        )
    assert extract.rows == len(crm[1]["nps_responses"]) and extract.retries == 2
    assert waits == [0.05, 0.1]  # exponential


def test_persistent_server_errors_fail_after_the_retries(
    crm: tuple[Path, dict[str, pd.DataFrame]], tmp_path: Path
) -> None:
    app = create_app(crm[0], TOKEN, fail_first_n_requests=100)
    with serve(app) as url, pytest.raises(TransientSourceError) as failure:
        extract_endpoint(
            url,
            "nps_responses",
            TOKEN,
            tmp_path / "n.jsonl",
            since=None,
            max_retries=3,
            sleep=lambda _: None,
        )
    assert app.state.stats.injected_failures == 4
    message = str(failure.value)
    assert f"{url}/v1/nps_responses" in message and "page 1" in message
    assert "failed 4 times" in message and "HTTP 503" in message
    assert not list(tmp_path.iterdir())


def test_unreachable_api_is_a_transient_failure(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(TransientSourceError, match=r"ConnectError") as failure:
        extract_endpoint(
            url, "nps_responses", TOKEN, tmp_path / "n.jsonl", since=None, sleep=lambda _: None
        )
    assert f"{url}/v1/nps_responses" in str(failure.value)


def test_an_answer_that_is_not_the_expected_json_names_the_page(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if "cursor" not in request.url.params:
            record = {"id": 1, "updated_at": "2024-01-01T00:00:00Z"}
            return httpx.Response(200, json={"data": [record], "next_cursor": "c2"})
        return httpx.Response(200, text="<html>maintenance</html>")

    with (
        httpx.Client(transport=httpx.MockTransport(handler)) as client,
        pytest.raises(SourceDataError, match=r"/v1/things .*page 2: the answer is not JSON"),
    ):
        extract_endpoint(
            "http://crm.test", "things", TOKEN, tmp_path / "t.jsonl", since=None, client=client
        )
    assert not list(tmp_path.iterdir())
