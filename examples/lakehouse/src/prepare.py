"""Step 1: clean the raw sales into a feature table (one row per store and day)."""
import argparse
import os

import pandas as pd

parser = argparse.ArgumentParser()
parser.add_argument("--sales", required=True)
parser.add_argument("--features", required=True)
args = parser.parse_args()

sales = pd.read_csv(args.sales)
sales = sales.dropna().query("units >= 0")
sales["weekday"] = sales["day"] % 7
os.makedirs(args.features, exist_ok=True)
sales.to_csv(os.path.join(args.features, "features.csv"), index=False)
print(f"prepared {len(sales)} rows")
