"""Regenerate the example data of the sales-report and dashboard examples (deterministic)."""
import csv, datetime, pathlib, random

here = pathlib.Path(__file__).parent
rng = random.Random(7)
regions = {"North": 1.35, "South": 0.8, "East": 1.1, "West": 1.6, "Central": 0.55, "Coastal": 0.95}
products = ["widget", "gadget", "gizmo", "doohickey"]
with open(here / "sales.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["region", "product", "revenue", "orders"])
    for _ in range(600):
        region = rng.choice(list(regions))
        orders = rng.randint(1, 12)
        revenue = round(orders * rng.uniform(40, 160) * regions[region], 2)
        w.writerow([region, rng.choice(products), revenue, orders])

dash = here.parent.parent / "dashboard" / "data"
start = datetime.date(2026, 1, 1)
with open(dash / "orders.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["date", "region", "amount", "items"])
    for day in range(90):
        date = start + datetime.timedelta(days=day)
        for _ in range(rng.randint(6, 18) + day // 10):
            region = rng.choice(list(regions))
            items = rng.randint(1, 6)
            amount = round(rng.lognormvariate(3.6, 0.45) * items * regions[region], 2)
            w.writerow([date.isoformat(), region, amount, items])
