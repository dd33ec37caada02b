"""Regenerate the polyglot example's orders (deterministic): python3 data/generate.py"""
import csv, datetime, pathlib, random

here = pathlib.Path(__file__).parent
rng = random.Random(11)
regions = {"North": 1.3, "South": 0.8, "East": 1.1, "West": 1.5, "Central": 0.6}
products = {"widget": 12.5, "gadget": 24.0, "gizmo": 7.25, "doohickey": 39.9}
start = datetime.date(2026, 1, 1)
with open(here / "orders.csv", "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["date", "region", "product", "quantity", "unit_price"])
    for day in range(0, 180, 2):
        date = start + datetime.timedelta(days=day)
        for _ in range(rng.randint(1, 4)):
            region = rng.choice(list(regions))
            product = rng.choice(list(products))
            quantity = max(0, round(rng.gauss(6, 4) * regions[region]))  # some zero: cancelled
            price = round(products[product] * rng.uniform(0.9, 1.1), 2)
            # A few rows lost their price on the way: the Rust node drops them.
            w.writerow([date.isoformat(), region, product, quantity, "" if rng.random() < 0.03 else price])
