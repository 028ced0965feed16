"""Customers: who signs up when, through which channel, and how long they keep buying.

Customer ids run in signup order, so "customers who exist on day d" is a prefix of
the id range, which web sessions use to pick logged-in visitors cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from metricstack.sample_company.names import FIRST_NAMES, LAST_NAMES, ascii_slug
from metricstack.sample_company.randomness import pick, stream
from metricstack.sample_company.reference import Catalogue
from metricstack.sample_company.timeline import Timeline
from metricstack.sample_company.workforce import Workforce, pick_active

CHANNELS = (
    "organic_search",
    "paid_search",
    "paid_social",
    "display",
    "affiliate",
    "email",
    "referral",
    "sales_outreach",
)
BUSINESS_CHANNEL = CHANNELS.index("sales_outreach")
CONSUMER_LIFETIME_DAYS = 520.0
BUSINESS_LIFETIME_DAYS = 1100.0
BUSINESS_WEIGHT = 2.5
NEVER = np.iinfo(np.int32).max


@dataclass
class CustomerBlock:
    """The customers of one signup block (the pre-start base, or one month)."""

    signup_day: np.ndarray
    channel: np.ndarray
    country: np.ndarray
    churn_day: np.ndarray
    weight: np.ndarray
    manager: np.ndarray  # sales_rep_id, 0 for consumers
    first_name: np.ndarray
    last_name: np.ndarray


def make_block(
    seed: int,
    block: int,
    signup_day: np.ndarray,
    channel: np.ndarray,
    catalogue: Catalogue,
    workforce: Workforce,
) -> CustomerBlock:
    """Attributes of customers who sign up on ``signup_day`` through ``channel``."""
    rng = stream(seed, "customers", block)
    n = len(signup_day)
    business = channel == BUSINESS_CHANNEL
    country = pick(rng, catalogue.country_share, n)
    lifetime = rng.exponential(1.0, n) * np.where(
        business, BUSINESS_LIFETIME_DAYS, CONSUMER_LIFETIME_DAYS
    )
    # Purchase intensity varies a lot between people; business accounts buy more often.
    weight = rng.lognormal(-0.405, 0.9, n) * np.where(business, BUSINESS_WEIGHT, 1.0)
    manager = np.zeros(n, dtype=np.int64)
    region = catalogue.country_region[country]
    for r in np.unique(region[business]):
        sel = np.flatnonzero(business & (region == r))
        members = np.flatnonzero(workforce.rep_region == r)
        chosen = pick_active(rng, workforce, members, np.maximum(signup_day[sel], 0))
        manager[sel] = workforce.rep_ids[chosen]
    return CustomerBlock(
        signup_day=signup_day.astype(np.int64),
        channel=channel.astype(np.int8),
        country=country.astype(np.int16),
        churn_day=(signup_day + lifetime).astype(np.int64),
        weight=weight.astype(np.float64),
        manager=manager,
        first_name=rng.integers(0, len(FIRST_NAMES), n).astype(np.int16),
        last_name=rng.integers(0, len(LAST_NAMES), n).astype(np.int16),
    )


@dataclass
class CustomerBase:
    """Every customer's attributes, concatenated in id order (id = index + 1)."""

    signup_day: np.ndarray
    channel: np.ndarray
    country: np.ndarray
    churn_day: np.ndarray
    weight: np.ndarray
    manager: np.ndarray
    first_name: np.ndarray
    last_name: np.ndarray
    block_starts: np.ndarray  # index of the first customer of each block, plus the end

    @classmethod
    def concat(cls, blocks: list[CustomerBlock]) -> CustomerBase:
        sizes = [len(b.signup_day) for b in blocks]
        fields = {
            f: np.concatenate([getattr(b, f) for b in blocks])
            for f in CustomerBlock.__dataclass_fields__
        }
        return cls(**fields, block_starts=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64))

    def __len__(self) -> int:
        return len(self.signup_day)

    def existing_by(self, day: np.ndarray) -> np.ndarray:
        """How many customers had signed up by the end of each day."""
        return np.searchsorted(self.signup_day, day, side="right")


_FIRST_SLUGS = np.array([ascii_slug(n) for n in FIRST_NAMES], dtype=object)
_LAST_SLUGS = np.array([ascii_slug(n) for n in LAST_NAMES], dtype=object)


def customers_frame(base: CustomerBase, lo: int, hi: int, timeline: Timeline) -> pd.DataFrame:
    """Rows of customers with index in [lo, hi)."""
    ids = np.arange(lo, hi, dtype=np.int64) + 1
    first = base.first_name[lo:hi]
    last = base.last_name[lo:hi]
    ids_text = pd.Series(ids).astype(str).to_numpy(dtype=object)
    email = _FIRST_SLUGS[first] + "." + _LAST_SLUGS[last] + ids_text + "@example.com"
    from metricstack.sample_company.reference import COUNTRIES

    codes = np.array([c[0] for c in COUNTRIES], dtype=object)
    manager = pd.array(base.manager[lo:hi], dtype="Int64")
    manager[base.manager[lo:hi] == 0] = pd.NA
    channel = base.channel[lo:hi]
    return pd.DataFrame(
        {
            "customer_id": ids,
            "first_name": np.array(FIRST_NAMES, dtype=object)[first],
            "last_name": np.array(LAST_NAMES, dtype=object)[last],
            "email": email,
            "country_code": codes[base.country[lo:hi]],
            "segment": np.where(channel == BUSINESS_CHANNEL, "business", "consumer").astype(object),
            "acquisition_channel": np.array(CHANNELS, dtype=object)[channel],
            "signup_date": (timeline.start64 + base.signup_day[lo:hi]).astype("datetime64[s]"),
            "account_manager_id": manager,
        }
    )
