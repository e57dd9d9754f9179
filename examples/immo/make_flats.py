"""Write the invented apartment listings of this example into a folder (default: data/).

Prices follow `4200 * surface + 30000` plus noise, drawn with a fixed seed so every run makes the
same files:

- flats_2024.csv   25 listings of small flats (18-70 m2): the first training table
- flats_check.csv  80 listings: the fixed table every model is scored on (R^2)
- flats_2025.csv    6 hand-typed listings with large errors: retraining on them scores worse
- flats_2026.csv  400 listings: retraining on them scores better
"""
import csv
import random
import sys
from pathlib import Path


def listings(rng: random.Random, count: int, noise: float, smallest: int = 18,
             largest: int = 140) -> list[tuple[int, int]]:
    rows = []
    for _ in range(count):
        surface = rng.randint(smallest, largest)
        price = 4200 * surface + 30000 + rng.gauss(0, noise)
        rows.append((surface, int(round(price, -2))))
    return rows


def main(folder: str = "data") -> None:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(2024)
    tables = {"flats_2024.csv": listings(rng, 25, 40000, largest=70),
              "flats_check.csv": listings(rng, 80, 40000),
              "flats_2025.csv": listings(rng, 6, 150000),
              "flats_2026.csv": listings(rng, 400, 40000)}
    for name, rows in tables.items():
        with open(out / name, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["surface", "price"])
            writer.writerows(rows)
        print(f"wrote {out / name} ({len(rows)} flats)")


if __name__ == "__main__":
    main(*sys.argv[1:])
