"""Step script: fit a high-spender classifier, log its accuracy, save and register it.

This is an ordinary Azure ML v1 step script: it would run unchanged on Azure with
`from azureml.core ...` imports (amlocal serves those too).
"""
import argparse
import os
import pickle
from pathlib import Path

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from amlocal.core import Model, Run

parser = argparse.ArgumentParser()
parser.add_argument("--data", required=True, help="the customer table (a mounted dataset)")
parser.add_argument("--test-share", type=float, default=0.2)
args = parser.parse_args()

data = Path(args.data)
table = pd.read_csv(next(data.rglob("*.csv")) if data.is_dir() else data)
features = ["age", "visits_per_month", "avg_basket", "loyalty_years", "online_share"]
train_x, test_x, train_y, test_y = train_test_split(
    table[features], table["high_spender"], test_size=args.test_share, random_state=1)

classifier = LogisticRegression(max_iter=2000).fit(train_x, train_y)
accuracy = float(classifier.score(test_x, test_y))
print(f"high-spender classifier: accuracy {accuracy:.3f} on {len(test_x)} held-out customers")

run = Run.get_context()
run.log("accuracy", accuracy)
run.log("training_rows", len(train_x))

os.makedirs("outputs", exist_ok=True)
with open("outputs/highspender.pkl", "wb") as handle:
    pickle.dump(classifier, handle)

Model.register(workspace=run.experiment.workspace, model_path="outputs/highspender.pkl",
               model_name="highspender", tags={"accuracy": f"{accuracy:.3f}"},
               description="Logistic regression: is this customer a high spender?")
