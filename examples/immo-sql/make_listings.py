"""Create and fill the ``immo`` table of the example's database, or append listings to it.

    python make_listings.py create    # the table and 30 listings of 2024
    python make_listings.py 2025      # append 8 odd listings (auctions: big flats sold cheap)
    python make_listings.py 2026      # append 300 listings of 2026

Connects with the PG* environment variables that ``postgres.py start`` printed. Prices follow
``4200 * surface + 30000`` plus noise, drawn with a fixed seed per year, so every run writes the
same rows. The 2025 auctions spoil the fit: a model trained with them fails the R^2 threshold of
src/train.py and is stored with ``flag_use = false``.
"""
import os
import random
import sys

import psycopg


def listings(year: int) -> list[tuple[float, float]]:
    rng = random.Random(year)
    if year == 2025:
        return [(float(s), float(round(rng.uniform(60000, 90000), -2)))
                for s in (118, 124, 131, 135, 140, 122, 128, 137)]
    count, largest = {2024: (30, 90), 2026: (300, 140)}[year]
    rows = []
    for _ in range(count):
        surface = rng.randint(18, largest)
        rows.append((float(surface), float(round(4200 * surface + 30000 + rng.gauss(0, 40000), -2))))
    return rows


def main(what: str) -> None:
    with psycopg.connect(host=os.environ["PGHOST"], port=os.environ["PGPORT"],
                         user=os.environ["PGUSER"], password=os.environ["PGPASSWORD"],
                         dbname=os.environ["PGDATABASE"]) as conn:
        if what == "create":
            conn.execute("CREATE TABLE immo (surface double precision NOT NULL, "
                         "price double precision NOT NULL, year integer NOT NULL)")
            year = 2024
        else:
            year = int(what)
        rows = listings(year)
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO immo (surface, price, year) VALUES (%s, %s, %s)",
                            [(s, p, year) for s, p in rows])
        total = conn.execute("SELECT count(*) FROM immo").fetchone()[0]
    print(f"immo: {len(rows)} listings of {year} added ({total} in the table)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "create")
