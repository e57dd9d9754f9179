"""Step 3: keep the better model and write a small report."""
import argparse
import json
import os
import shutil

parser = argparse.ArgumentParser()
parser.add_argument("--candidates", nargs="+", required=True)
parser.add_argument("--best", required=True)
args = parser.parse_args()

scores = [(json.load(open(os.path.join(c, "score.json"))), c) for c in args.candidates]
best, folder = max(scores, key=lambda item: item[0]["r2"])
os.makedirs(args.best, exist_ok=True)
shutil.copy(os.path.join(folder, "model.pkl"), os.path.join(args.best, "model.pkl"))
json.dump({"winner": best, "all": [s for s, _ in scores]}, open(os.path.join(args.best, "report.json"), "w"), indent=2)
print("winner:", best["kind"], f"r2={best['r2']:.3f}")
