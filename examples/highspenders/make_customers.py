"""Make a synthetic customer table for the example: who is a high spender?

Usage: python make_customers.py OUT.csv [ROWS]
The numbers are invented and reproducible (a fixed seed).
"""
import csv
import math
import random
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "customers.csv"
rows = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
rng = random.Random(2026)

with open(out, "w", newline="") as handle:
    writer = csv.writer(handle)
    writer.writerow(["customer_id", "age", "visits_per_month", "avg_basket", "loyalty_years",
                     "online_share", "high_spender"])
    for customer in range(rows):
        age = rng.randint(18, 85)
        visits = max(0, int(rng.gauss(8, 5)))
        basket = round(math.exp(rng.gauss(3.4, 0.5)), 2)
        loyalty = rng.randint(0, 20)
        online = round(rng.random(), 2)
        monthly = visits * basket * (1 + 0.02 * loyalty) + rng.gauss(0, 60)
        writer.writerow([customer, age, visits, basket, loyalty, online, int(monthly > 400)])
print(f"wrote {rows} customers to {out}")
