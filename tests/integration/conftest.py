"""Fixtures of the integration tests: the small sample company, generated once a module,
and a warehouse shared by a module's tests (the dbt tests build on one)."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from shop_sample import CONFIG
from support import bootstrapped_warehouse, new_database

from metricstack.config import Settings
from metricstack.sample_company.generator import Company, generate


@pytest.fixture(scope="module")
def company() -> Company:
    return generate(CONFIG)


@pytest.fixture(scope="module")
def tables(company: Company) -> dict[str, pd.DataFrame]:
    return company.collect()


@pytest.fixture(scope="module")
def module_warehouse(
    pg_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """A bootstrapped warehouse in a database of its own, shared by a module's tests."""
    folder = tmp_path_factory.mktemp("warehouse")
    with new_database(pg_server) as url, bootstrapped_warehouse(url, folder) as settings:
        yield settings
