"""Regenerate daily_sales.csv: half a year of daily sales with a weekly rhythm, a trend and noise."""
import csv, datetime, math, pathlib, random

here = pathlib.Path(__file__).parent
rng = random.Random(11)
start = datetime.date(2026, 1, 1)
with open(here / "daily_sales.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["date", "sales"])
    for day in range(182):
        date = start + datetime.timedelta(days=day)
        weekly = [0.8, 0.9, 0.95, 1.0, 1.15, 1.35, 1.2][date.weekday()]
        trend = 1800 + 6.5 * day + 250 * math.sin(day / 29)
        w.writerow([date.isoformat(), round(trend * weekly * rng.uniform(0.85, 1.15), 2)])
