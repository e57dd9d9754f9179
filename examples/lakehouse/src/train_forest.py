"""Step 2b: a random forest that also knows the event calendar."""
import argparse
import json
import os
import pickle

import pandas as pd
from sklearn.ensemble import RandomForestRegressor
from sklearn.model_selection import train_test_split

from azureml.core import Run

parser = argparse.ArgumentParser()
parser.add_argument("--features", required=True)
parser.add_argument("--calendar", required=True)
parser.add_argument("--model", required=True)
args = parser.parse_args()

table = pd.read_csv(os.path.join(args.features, "features.csv"))
table = table.merge(pd.read_csv(args.calendar), on="day", how="left").fillna({"event": 0})
columns = ["temperature", "promo", "store", "weekday", "event"]
x_train, x_test, y_train, y_test = train_test_split(table[columns], table["units"], random_state=0)
model = RandomForestRegressor(n_estimators=60, random_state=0).fit(x_train, y_train)
score = float(model.score(x_test, y_test))
Run.get_context().log("r2", score)
os.makedirs(args.model, exist_ok=True)
pickle.dump(model, open(os.path.join(args.model, "model.pkl"), "wb"))
json.dump({"kind": "forest", "r2": score}, open(os.path.join(args.model, "score.json"), "w"))
print(f"forest r2={score:.3f}")
