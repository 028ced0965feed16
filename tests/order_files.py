"""A simple orders export as CSV, the loader tests' input (declared in fixtures/orders.yml).

Deterministic: the same seed and size give the same bytes. A small, known share of
the rows is dirty the way real exports are (a malformed date, an amount that is
not a number, a missing key, a row exported twice) so that the loader's quarantine
has something to keep.
"""

from __future__ import annotations

import csv
import math
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

COLUMNS = ("order_id", "customer_id", "ordered_at", "status", "amount")
FIRST_DAY = date(2023, 1, 1)
STATUSES = (("completed", 0.90), ("returned", 0.06), ("cancelled", 0.04))


def _orders_on(day: date, base: float) -> int:
    """Growth over the years, a weekly rhythm and a year-end peak."""
    years = (day - FIRST_DAY).days / 365.25
    weekly = 1.15 if day.weekday() >= 5 else 1.0
    season = 1 + 0.35 * math.exp(-(((day.timetuple().tm_yday - 340) / 20) ** 2))
    # typeshed types float ** float as Any (the result may be complex); it is a float here.
    growth: float = 1.25**years
    return max(1, round(base * growth * weekly * season))


def write_orders(path: Path, *, days: int = 730, orders_per_day: int = 20, seed: int = 7) -> Path:
    """Write ``days`` days of orders from 2023-01-01 to ``path``; returns the path."""
    rng = random.Random(seed)  # noqa: S311 - test data, not a secret
    path.parent.mkdir(parents=True, exist_ok=True)
    order_id = 100000
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for offset in range(days):
            day = FIRST_DAY + timedelta(days=offset)
            for _ in range(round(_orders_on(day, orders_per_day) * rng.uniform(0.8, 1.2))):
                order_id += 1
                moment = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
                    seconds=rng.randrange(86400)
                )
                status = rng.choices([s for s, _ in STATUSES], [w for _, w in STATUSES])[0]
                row = [
                    order_id,
                    rng.randrange(1, 5000),
                    moment.isoformat(),
                    status,
                    f"{rng.lognormvariate(4.0, 0.6):.2f}",
                ]
                dirt = rng.random()
                if dirt < 0.002:
                    row[2] = moment.strftime("%d/%m/%Y %H:%M")  # not ISO 8601
                elif dirt < 0.003:
                    row[4] = "n/a"
                elif dirt < 0.004:
                    row[0] = ""
                writer.writerow(row)
                if rng.random() < 0.003:
                    writer.writerow(row)  # exported twice
    return path
