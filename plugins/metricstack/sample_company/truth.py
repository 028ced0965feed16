"""Ground truth: what the generator planted, for tests of later layers to assert on."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from metricstack.sample_company.config import CompanyConfig
from metricstack.sample_company.dirt import ENCODING_DIRT_CODEC, ENCODING_DIRT_FILE, DirtRecord
from metricstack.sample_company.plan import Anomalies


@dataclass
class DirtSummary:
    column: str | None
    count: int = 0
    keys: list[tuple[int | str, ...]] = field(default_factory=list)


@dataclass
class GroundTruth:
    """Filled while chunks are generated; complete once the last chunk is out.

    - anomalies: the revenue dip day and factor; the late supplier and from when.
    - dirt[table][kind]: column, count and primary keys of the planted rows
      (for duplicates, the keys that appear twice).
    - rows[table]: rows emitted, dirt included.
    - daily_revenue_cents[iso day]: sum(subtotal - discount) of the day's orders that are
      not cancelled, from the clean data: what revenue per day must come to after
      cleaning (drop exact duplicate rows; the other dirt does not change amounts).
    """

    config: CompanyConfig
    anomalies: Anomalies
    dirt: dict[str, dict[str, DirtSummary]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    daily_revenue_cents: dict[str, int] = field(default_factory=dict)
    encoding: dict[str, str] = field(
        default_factory=lambda: {"file": ENCODING_DIRT_FILE, "codec": ENCODING_DIRT_CODEC}
    )

    def add(self, records: list[DirtRecord]) -> None:
        for r in records:
            summary = self.dirt.setdefault(r.table, {}).setdefault(r.kind, DirtSummary(r.column))
            summary.count += len(r.keys)
            summary.keys.extend(r.keys)

    def count(self, table: str, kind: str) -> int:
        summary = self.dirt.get(table, {}).get(kind)
        return summary.count if summary else 0

    def keys(self, table: str, kind: str) -> list[tuple[int | str, ...]]:
        summary = self.dirt.get(table, {}).get(kind)
        return list(summary.keys) if summary else []

    def to_dict(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, date):
                return value.isoformat()
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [plain(v) for v in value]
            return value

        sections: dict[str, Any] = {
            "config": asdict(self.config),
            "anomalies": asdict(self.anomalies),
            "dirt": {t: {k: asdict(s) for k, s in kinds.items()} for t, kinds in self.dirt.items()},
            "rows": self.rows,
            "daily_revenue_cents": self.daily_revenue_cents,
            "encoding": self.encoding,
        }
        return {name: plain(section) for name, section in sections.items()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True)
