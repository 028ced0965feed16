"""Reference data: regions, countries, warehouses, categories, suppliers, products.

Small tables, generated once from their own random stream. Product and supplier counts
grow with the square root of the order count: a bigger shop has a wider range, but not
proportionally.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from metricstack.sample_company.config import CompanyConfig
from metricstack.sample_company.randomness import stream
from metricstack.sample_company.timeline import Timeline

REGIONS = (  # region_id, name, warehouse_id
    (1, "Benelux", 1),
    (2, "DACH", 2),
    (3, "Nordics", 3),
    (4, "Southern Europe", 1),
)
COUNTRIES = (  # code, name, region, share of customers
    ("NL", "Netherlands", 1, 0.15),
    ("BE", "Belgium", 1, 0.07),
    ("LU", "Luxembourg", 1, 0.01),
    ("DE", "Germany", 2, 0.25),
    ("AT", "Austria", 2, 0.05),
    ("CH", "Switzerland", 2, 0.05),
    ("SE", "Sweden", 3, 0.06),
    ("DK", "Denmark", 3, 0.04),
    ("FI", "Finland", 3, 0.03),
    ("FR", "France", 4, 0.14),
    ("ES", "Spain", 4, 0.08),
    ("IT", "Italy", 4, 0.07),
)
WAREHOUSES = ((1, "Tilburg DC", "NL"), (2, "Erfurt DC", "DE"), (3, "Jönköping DC", "SE"))
# name, share of demand, monthly seasonality (Jan..Dec), return rate, median price (EUR)
CATEGORIES = (
    ("Apparel", 0.22, (1.0, 0.8, 0.9, 1.0, 1.0, 0.9, 0.9, 0.9, 1.1, 1.1, 1.2, 1.3), 0.14, 35),
    ("Footwear", 0.10, (0.9, 0.8, 1.0, 1.1, 1.1, 1.0, 0.9, 0.9, 1.1, 1.0, 1.1, 1.1), 0.12, 70),
    (
        "Home & Kitchen",
        0.17,
        (1.1, 1.0, 1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 1.0, 1.0, 1.2, 1.3),
        0.04,
        28,
    ),
    ("Electronics", 0.13, (0.9, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.9, 0.9, 1.0, 1.6, 1.8), 0.05, 120),
    ("Toys & Games", 0.09, (0.6, 0.6, 0.7, 0.7, 0.7, 0.7, 0.7, 0.8, 0.9, 1.2, 2.0, 2.6), 0.03, 25),
    ("Garden", 0.09, (0.4, 0.6, 1.3, 1.9, 1.9, 1.5, 1.2, 0.9, 0.7, 0.5, 0.4, 0.4), 0.03, 40),
    (
        "Sports & Outdoors",
        0.11,
        (1.3, 1.1, 1.1, 1.1, 1.1, 1.1, 1.0, 0.9, 0.9, 0.8, 0.9, 1.0),
        0.07,
        55,
    ),
    ("Beauty", 0.09, (1.0, 1.0, 1.0, 1.0, 1.0, 0.9, 0.9, 0.9, 1.0, 1.0, 1.2, 1.4), 0.02, 18),
)
SUPPLIER_NAMES = (
    "Nordwind",
    "Kestrel",
    "Blue Heron",
    "Sunfield",
    "Ironbark",
    "Lotus Bay",
    "Meridian",
    "Alpenrose",
    "Corvid",
    "Tidewater",
    "Oakline",
    "Pampas",
    "Quartz",
    "Redwood",
    "Saffron",
)
SUPPLIER_COUNTRIES = ("CN", "VN", "TR", "PL", "PT", "DE", "IT", "IN", "BD", "NL")
ADJECTIVES = ("Classic", "Urban", "Pro", "Eco", "Nordic", "Soft", "Compact", "Deluxe", "Air")
NOUNS = {
    "Apparel": ("T-Shirt", "Hoodie", "Jacket", "Jeans", "Dress", "Scarf"),
    "Footwear": ("Sneaker", "Boot", "Sandal", "Loafer", "Runner"),
    "Home & Kitchen": ("Pan", "Mug Set", "Knife", "Lamp", "Throw", "Kettle"),
    "Electronics": ("Headphones", "Speaker", "Charger", "Smartwatch", "Camera"),
    "Toys & Games": ("Puzzle", "Board Game", "Building Set", "Plush", "Kite"),
    "Garden": ("Planter", "Hose", "Shears", "Lounger", "Seed Kit"),
    "Sports & Outdoors": ("Yoga Mat", "Tent", "Backpack", "Bottle", "Racket"),
    "Beauty": ("Serum", "Shampoo", "Lip Balm", "Face Mask", "Soap"),
}


@dataclass(frozen=True)
class Catalogue:
    """Reference tables as frames, plus the arrays the generators index into."""

    frames: dict[str, pd.DataFrame]
    product_ids: np.ndarray
    product_category: np.ndarray  # category index (0-based) per product
    product_supplier: np.ndarray  # supplier index (0-based) per product
    product_price_cents: np.ndarray
    product_cost_cents: np.ndarray
    product_popularity: np.ndarray
    product_launch_day: np.ndarray  # day index; negative = before the start
    product_end_day: np.ndarray  # day index after which it is no longer sold
    supplier_lead_days: np.ndarray
    country_codes: np.ndarray
    country_share: np.ndarray
    country_warehouse: np.ndarray  # warehouse id per country
    country_region: np.ndarray


def product_count(orders: int) -> int:
    return int(60 + round(np.sqrt(orders)))


def build_catalogue(config: CompanyConfig, timeline: Timeline) -> Catalogue:
    rng = stream(config.seed, "catalogue")
    n_products = product_count(config.orders)
    n_suppliers = int(np.clip(n_products // 20, len(CATEGORIES), 60))
    region_warehouse = {r: w for r, _, w in REGIONS}

    n_cat = len(CATEGORIES)
    cat_share = np.array([c[1] for c in CATEGORIES])
    category = rng.choice(n_cat, size=n_products, p=cat_share / cat_share.sum())
    category.sort()  # product ids grouped by category, as catalogues are
    median_price = np.array([c[4] for c in CATEGORIES], dtype=float)[category]
    price = np.round(median_price * rng.lognormal(0, 0.45, n_products), 0) - 0.01
    price_cents = np.maximum(np.rint(price * 100), 299).astype(np.int64)
    margin = rng.uniform(0.35, 0.65, n_products)
    cost_cents = np.rint(price_cents * (1 - margin)).astype(np.int64)
    popularity = rng.pareto(1.6, n_products) + 0.2

    # Each supplier serves one or two categories; products go to a supplier of their own.
    supplier_cat = np.concatenate([np.arange(n_cat), rng.integers(0, n_cat, n_suppliers - n_cat)])
    supplier = np.empty(n_products, dtype=np.int64)
    for c in range(n_cat):
        options = np.flatnonzero(supplier_cat == c)
        members = np.flatnonzero(category == c)
        supplier[members] = rng.choice(options, size=len(members))
    lead_days = rng.choice(np.array([7, 10, 14, 21, 28, 35]), size=n_suppliers)

    # 70% of the range exists at the start; the rest launches during the history, and
    # about a tenth is discontinued, so that product mixes shift over time.
    launched = np.where(
        rng.random(n_products) < 0.7,
        -rng.integers(30, 1500, n_products),
        rng.integers(0, max(timeline.n_days - 60, 1), n_products),
    )
    ends = np.where(
        rng.random(n_products) < 0.1,
        launched + rng.integers(180, 900, n_products),
        np.iinfo(np.int32).max,
    )
    ends = np.where(ends <= 30, np.iinfo(np.int32).max, ends)  # keep what sells at the start
    product_ids = np.arange(1, n_products + 1, dtype=np.int64) + 10_000

    start = timeline.start64
    cat_names = [c[0] for c in CATEGORIES]
    adjective = rng.integers(0, len(ADJECTIVES), n_products)
    noun_pick = rng.integers(0, 1000, n_products)
    names = [
        f"{ADJECTIVES[a]} {NOUNS[cat_names[c]][k % len(NOUNS[cat_names[c]])]} {pid % 1000:03d}"
        for a, c, k, pid in zip(adjective, category, noun_pick, product_ids, strict=True)
    ]
    discontinued = np.where(
        ends < timeline.n_days,
        (start + np.minimum(ends, timeline.n_days)).astype("datetime64[s]"),
        np.datetime64("NaT", "s"),
    )
    products = pd.DataFrame(
        {
            "product_id": product_ids,
            "sku": [
                f"SKU-{c + 1:02d}-{pid:06d}" for c, pid in zip(category, product_ids, strict=True)
            ],
            "name": names,
            "category_id": (category + 1).astype(np.int32),
            "supplier_id": (supplier + 1).astype(np.int32),
            "unit_cost": cost_cents / 100,
            "list_price": price_cents / 100,
            "launched_on": (start + launched).astype("datetime64[s]"),
            "discontinued_on": discontinued,
        }
    )
    suppliers = pd.DataFrame(
        {
            "supplier_id": np.arange(1, n_suppliers + 1, dtype=np.int32),
            "name": [
                f"{SUPPLIER_NAMES[i % len(SUPPLIER_NAMES)]} {'Trading' if i < 15 else i // 15 + 1}"
                for i in range(n_suppliers)
            ],
            "country_code": rng.choice(np.array(SUPPLIER_COUNTRIES), n_suppliers),
            "lead_time_days": lead_days.astype(np.int32),
        }
    )
    frames = {
        "regions": pd.DataFrame(REGIONS, columns=["region_id", "name", "warehouse_id"]).astype(
            {"region_id": np.int32, "warehouse_id": np.int32}
        ),
        "countries": pd.DataFrame(
            [c[:3] for c in COUNTRIES], columns=["country_code", "name", "region_id"]
        ).astype({"region_id": np.int32}),
        "warehouses": pd.DataFrame(
            WAREHOUSES, columns=["warehouse_id", "name", "country_code"]
        ).astype({"warehouse_id": np.int32}),
        "categories": pd.DataFrame(
            {"category_id": np.arange(1, n_cat + 1, dtype=np.int32), "name": cat_names}
        ),
        "suppliers": suppliers,
        "products": products,
    }
    share = np.array([c[3] for c in COUNTRIES])
    return Catalogue(
        frames=frames,
        product_ids=product_ids,
        product_category=category,
        product_supplier=supplier,
        product_price_cents=price_cents,
        product_cost_cents=cost_cents,
        product_popularity=popularity,
        product_launch_day=launched.astype(np.int64),
        product_end_day=ends.astype(np.int64),
        supplier_lead_days=lead_days.astype(np.int64),
        country_codes=np.array([c[0] for c in COUNTRIES]),
        country_share=share / share.sum(),
        country_warehouse=np.array([region_warehouse[c[2]] for c in COUNTRIES]),
        country_region=np.array([c[2] for c in COUNTRIES]),
    )
