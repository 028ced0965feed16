"""Fixtures of the integration tests: the small sample company, generated once a module."""

from __future__ import annotations

import pandas as pd
import pytest
from shop_sample import CONFIG

from metricstack.sample_company.generator import Company, generate


@pytest.fixture(scope="module")
def company() -> Company:
    return generate(CONFIG)


@pytest.fixture(scope="module")
def tables(company: Company) -> dict[str, pd.DataFrame]:
    return company.collect()
