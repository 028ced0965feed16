"""Days, months and the demand curve (growth, week, season) of the sample company."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from numpy.typing import NDArray

from metricstack.sample_company.config import CompanyConfig

GROWTH_PER_YEAR = 1.30
# Monday..Sunday: an online shop sells most on Sunday evening and Monday.
WEEKDAY_FACTOR: NDArray[np.float64] = np.array([1.06, 1.0, 0.98, 0.98, 0.93, 0.88, 1.12])


@dataclass(frozen=True)
class Timeline:
    start: date
    n_days: int
    # day index of the first day of each month, plus n_days at the end
    month_starts: np.ndarray

    @property
    def n_months(self) -> int:
        return len(self.month_starts) - 1

    @property
    def start64(self) -> np.datetime64:
        return np.datetime64(self.start, "D")

    def dates(self) -> NDArray[np.datetime64]:
        """datetime64[D] of every day."""
        return self.start64 + np.arange(self.n_days)

    def day(self, index: int) -> date:
        return self.start + timedelta(days=int(index))

    def month_range(self, month: int) -> tuple[int, int]:
        return int(self.month_starts[month]), int(self.month_starts[month + 1])

    def month_label(self, month: int) -> int:
        """yyyymm of a month, used as a prefix of ids that are numbered per month."""
        first = self.day(self.month_starts[month])
        return first.year * 100 + first.month

    @property
    def first_weekday(self) -> int:
        """0 = Monday, of the first day."""
        return self.start.weekday()

    def week_of(self, day: NDArray[np.integer] | int) -> NDArray[np.integer]:
        """Monday-based week number of day indices; week 0 holds the first day."""
        return (np.asarray(day) + self.first_weekday) // 7

    @property
    def n_weeks(self) -> int:
        return int(self.week_of(self.n_days - 1)) + 1

    def week_starts(self) -> np.ndarray:
        """datetime64[D] Monday of each week (the first may precede the start)."""
        return self.start64 - self.first_weekday + 7 * np.arange(self.n_weeks)


def build_timeline(config: CompanyConfig) -> Timeline:
    n_days = (config.end - config.start).days
    firsts = []
    year, month = config.start.year, config.start.month
    while True:
        first = date(year, month, 1)
        if first >= config.end:
            break
        firsts.append(max((first - config.start).days, 0))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return Timeline(config.start, n_days, np.array([*firsts, n_days], dtype=np.int64))


def seasonal_shape(timeline: Timeline) -> NDArray[np.float64]:
    """Relative demand per day without anomalies: growth x weekday x season x holidays."""
    dates = timeline.dates()
    years = np.arange(timeline.n_days) / 365.25
    doy: NDArray[np.int64] = (dates - dates.astype("datetime64[Y]")).astype(np.int64) + 1
    weekday = (dates.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    season = (
        1.0
        + 0.55 * np.exp(-(((doy - 333) / 12.0) ** 2))  # Black Friday / Cyber Monday
        + 0.35 * np.exp(-(((doy - 350) / 9.0) ** 2))  # Christmas shopping
        + 0.15 * np.exp(-(((doy - 8) / 6.0) ** 2))  # January sales
        - 0.12 * np.exp(-(((doy - 205) / 25.0) ** 2))  # summer lull
    )
    months = dates.astype("datetime64[M]")
    month = months.astype(np.int64) % 12 + 1
    dom: NDArray[np.int64] = (dates - months).astype(np.int64) + 1
    holiday: NDArray[np.float64] = np.where(
        ((month == 12) & (dom == 25)) | ((month == 1) & (dom == 1)), 0.45, 1.0
    )
    weekday_factor: NDArray[np.float64] = WEEKDAY_FACTOR[weekday]
    return GROWTH_PER_YEAR**years * weekday_factor * season * holiday
