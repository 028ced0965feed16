"""The one knob set of the sample company: seed, size and time span."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class CompanyConfig:
    """What to generate. The same config always gives the same data, byte for byte.

    ``orders`` is a target: the generated count lands within a few per cent of it,
    because orders come from customers' random purchase processes, not from a quota.
    """

    seed: int = 7
    orders: int = 30_000
    start: date = date(2023, 1, 1)
    years: int = 3
    # Share of rows per dirty kind in the tables that carry it (see dirt.py); every
    # kind also appears at least once, so that tests at any scale have something to find.
    dirt_rate: float = 0.002
    dirt: bool = True
    anomalies: bool = True
    # Web sessions per online order: 4 means a 25% session conversion rate. It sets the
    # size of the two largest tables (sessions, funnel events), hence the knob.
    sessions_per_order: float = 4.0

    def __post_init__(self) -> None:
        if self.orders < 100:
            raise ValueError(f"orders must be at least 100, not {self.orders}")
        if not 1 <= self.years <= 20:
            raise ValueError(f"years must be between 1 and 20, not {self.years}")
        if not 0 <= self.dirt_rate < 0.1:
            raise ValueError(f"dirt_rate must be in [0, 0.1), not {self.dirt_rate}")
        if self.sessions_per_order < 1:
            raise ValueError("sessions_per_order must be at least 1")

    @property
    def end(self) -> date:
        """The first day after the generated history."""
        return self.start.replace(year=self.start.year + self.years)
