"""Step 2a: a ridge regression on the features; its regularisation comes from a parameter."""
import argparse
import json
import os
import pickle

import pandas as pd
from sklearn.linear_model import Ridge
from sklearn.model_selection import train_test_split

from azureml.core import Run

parser = argparse.ArgumentParser()
parser.add_argument("--features", required=True)
parser.add_argument("--alpha", type=float, default=1.0)
parser.add_argument("--model", required=True)
args = parser.parse_args()

table = pd.read_csv(os.path.join(args.features, "features.csv"))
columns = ["temperature", "promo", "store", "weekday"]
x_train, x_test, y_train, y_test = train_test_split(table[columns], table["units"], random_state=0)
model = Ridge(alpha=args.alpha).fit(x_train, y_train)
score = float(model.score(x_test, y_test))
Run.get_context().log("r2", score)
os.makedirs(args.model, exist_ok=True)
pickle.dump(model, open(os.path.join(args.model, "model.pkl"), "wb"))
json.dump({"kind": "ridge", "alpha": args.alpha, "r2": score}, open(os.path.join(args.model, "score.json"), "w"))
print(f"ridge(alpha={args.alpha}) r2={score:.3f}")
