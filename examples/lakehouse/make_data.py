"""Write the example's raw data: daily sales of a small shop chain and a calendar of events.

Usage: python make_data.py OUT_DIR
The numbers are invented and reproducible (a fixed seed).
"""
import csv
import math
import os
import random
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "raw"
os.makedirs(out, exist_ok=True)
rng = random.Random(11)
days = 365
events = {d for d in range(days) if rng.random() < 0.08}

with open(os.path.join(out, "calendar.csv"), "w", newline="") as handle:
    writer = csv.writer(handle)
    writer.writerow(["day", "event"])
    for day in range(days):
        writer.writerow([day, int(day in events)])

with open(os.path.join(out, "sales.csv"), "w", newline="") as handle:
    writer = csv.writer(handle)
    writer.writerow(["day", "store", "temperature", "promo", "units"])
    for day in range(days):
        season = 15 + 10 * math.sin(2 * math.pi * day / 365)
        for store in range(4):
            temperature = round(season + rng.gauss(0, 3), 1)
            promo = int(rng.random() < 0.2)
            units = 120 + 3 * temperature + 40 * promo + 60 * (day in events) + 15 * store
            writer.writerow([day, store, temperature, promo, round(units + rng.gauss(0, 12))])
print(f"wrote {out}/sales.csv and {out}/calendar.csv")
