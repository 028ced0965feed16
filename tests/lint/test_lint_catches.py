"""`make lint` fails on a planted violation of each kind, naming what is wrong.

The repository is copied to a temporary folder (its virtual environments linked, not
copied), one violation per kind is planted in the copy, and each check of
tools/lint.sh is run there, as `make lint` runs it. That `make lint` passes on the
repository itself is shown by `make test`, which runs it first.
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# generated or installed, never linted: left out of the copy
_SKIP = {
    ".git",
    ".venvs",
    ".state",
    ".ruff_cache",
    ".pytest_cache",
    ".mypy_cache",
    "__pycache__",
    "test-artifacts",
    "target",
    "logs",
    "dbt_packages",
    "uncommitted",
}


def _plant(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("planted") / "repo"
    shutil.copytree(
        ROOT,
        root,
        ignore=lambda _dir, names: [n for n in names if n in _SKIP or n.endswith(".egg-info")],
    )
    (root / ".venvs").symlink_to(ROOT / ".venvs")
    if (ROOT / ".mypy_cache").is_dir():
        # third-party modules are at the same paths: their analysis is reused
        shutil.copytree(ROOT / ".mypy_cache", root / ".mypy_cache")

    # for ruff check: an unused import (F401)
    _plant(root, "plugins/metricstack/planted_unused.py", "import os\n")
    # for ruff format: code the formatter would rewrite
    _plant(root, "plugins/metricstack/planted_format.py", "VALUES = [1,2,\n    3]\n")
    # for mypy --strict: a function without annotations (no-untyped-def)
    _plant(
        root,
        "plugins/metricstack/planted_types.py",
        """
        def double(x):
            return x * 2
        """,
    )
    # for sqlfluff: upper-case keywords (CP01) in a model
    model = root / "dbt_project/models/staging/shop/stg_shop__orders.sql"
    model.write_text(model.read_text().replace("select * from", "SELECT * FROM"))
    # for the dbt conventions: a mart named without fct_/dim_, undocumented, untested, that
    # reads a source
    _plant(
        root,
        "dbt_project/models/marts/planted_revenue.sql",
        "select * from {{ source('shop', 'orders') }}\n",
    )
    # for yamllint: a key given twice
    _plant(root, "expectations/gx/planted.yml", "name: one\nname: two\n")
    # for DAG integrity: a DAG without tags, owner, retries or failure callback, and a DAG
    # file that opens a network connection when it is imported
    _plant(
        root,
        "dags/planted_bare.py",
        """
        from datetime import datetime

        from airflow.sdk import DAG

        with DAG("planted_bare", schedule=None, start_date=datetime(2024, 1, 1)) as bare:
            pass
        """,
    )
    _plant(
        root,
        "dags/planted_network.py",
        """
        import socket

        socket.create_connection(("127.0.0.1", 9), timeout=1)
        """,
    )
    return root


def _lint(root: Path, check: str) -> tuple[int, str]:
    result = subprocess.run(
        [str(root / "tools" / "lint.sh"), check],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("check", "expected"),
    [
        ("ruff", ["F401", "planted_unused.py"]),
        ("format", ["planted_format.py"]),
        ("mypy", ["no-untyped-def", "planted_types.py"]),
        ("sql", ["CP01", "stg_shop__orders.sql"]),
        (
            "dbt",
            [
                "check_model_names",
                "check_lineage_source_cannot_be_used",
                "check_model_description_populated",
                "check_model_has_tests_by_type",
                "planted_revenue",
            ],
        ),
        ("yaml", ["key-duplicates", "planted.yml"]),
        ("dags", ["planted_network.py", "NetworkAtImport", "planted_bare: no owner", "no tags"]),
    ],
)
def test_lint_fails_on_a_planted_violation(planted: Path, check: str, expected: list[str]) -> None:
    status, output = _lint(planted, check)
    assert status == 1, f"`tools/lint.sh {check}` passed on a planted violation:\n{output}"
    missing = [text for text in expected if text not in output]
    assert not missing, f"`tools/lint.sh {check}` did not name {missing}:\n{output[-4000:]}"
