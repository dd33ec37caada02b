#!/usr/bin/env python3
"""Write the sales CSV of PERF.md: region (8 values), product, revenue (float), orders (int).

Usage: generate.py ROWS PATH   (deterministic: the same ROWS give the same bytes)
"""
import random
import sys

REGIONS = ["north", "south", "east", "west", "central", "coast", "mountain", "islands"]
PRODUCTS = [f"product-{i:03d}" for i in range(200)]


def main() -> None:
    rows, path = int(sys.argv[1]), sys.argv[2]
    rng = random.Random(42)
    chunk = []
    with open(path, "w", encoding="ascii") as out:
        out.write("region,product,revenue,orders\n")
        for i in range(rows):
            chunk.append(
                f"{REGIONS[rng.randrange(8)]},{PRODUCTS[rng.randrange(200)]},"
                f"{rng.uniform(1, 5000):.2f},{rng.randrange(1, 50)}\n"
            )
            if len(chunk) == 100_000:
                out.write("".join(chunk))
                chunk.clear()
                print(f"\r{i + 1:,} / {rows:,} rows", end="", file=sys.stderr)
        out.write("".join(chunk))
    print(f"\r{rows:,} rows written to {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
