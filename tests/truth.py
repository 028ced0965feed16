"""What the loader tests' orders file should load, computed without the package's code.

A plain reading of the CSV with the documented rules: a row is valid when its key is
present, its timestamp is ISO 8601 and its amount a number; the last row of a key
wins.
"""

from __future__ import annotations

import csv
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path


def valid_orders(*paths: Path) -> dict[int, dict[str, str]]:
    orders: dict[int, dict[str, str]] = {}
    for path in paths:
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                try:
                    key = int(row["order_id"])
                    datetime.fromisoformat(row["ordered_at"])
                    Decimal(row["amount"])
                    int(row["customer_id"])
                except (ValueError, InvalidOperation):
                    continue
                orders[key] = row
    return orders


def invalid_row_count(path: Path) -> int:
    with path.open(newline="") as handle:
        total = sum(1 for _ in csv.DictReader(handle))
    with path.open(newline="") as handle:
        good = 0
        for row in csv.DictReader(handle):
            try:
                (
                    int(row["order_id"]),
                    datetime.fromisoformat(row["ordered_at"]),
                    Decimal(row["amount"]),
                )
                int(row["customer_id"])
                good += 1
            except (ValueError, InvalidOperation):
                pass
    return total - good
