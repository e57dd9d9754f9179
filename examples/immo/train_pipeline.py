"""Train, or retrain, the apartment-price model on one table of flats and keep it only if it
scores better than the registered one.

    python train_pipeline.py flats_2024.csv

The table is read from the `immo` datastore (flats/<file>). The training step returns one frame
(the pickled model, its coefficient, intercept and score); that frame is registered as a new
version of the tabular dataset `immo_model` when its R^2 on the check table beats the current
version's, else it is left unregistered (the run keeps it).
"""
import sys

from amlocal.core import Dataset, Datastore, Experiment
from amlocal.errors import NotFoundError
from amlocal.pipeline.core import Pipeline
from amlocal.pipeline.steps import ExecutePythonScriptStep

from common import setting

ws, cluster, run_config = setting()
lake = Datastore.get(ws, "immo")
table = sys.argv[1] if len(sys.argv) > 1 else "flats_2024.csv"
flats = Dataset.Tabular.from_delimited_files(path=(lake, f"flats/{table}"))
check = Dataset.Tabular.from_delimited_files(path=(lake, "flats/flats_check.csv"))

train = ExecutePythonScriptStep("src/train.py", dataframe1=flats, dataframe2=check, name="train",
                                runconfig=run_config, compute_target=cluster)
run = Experiment(ws, "immo-training").submit(Pipeline(workspace=ws, steps=[train]))
if run.wait_for_completion(show_output=True, raise_on_error=False) != "Finished":
    sys.exit(f"training run {run.id} failed; see `amlocal run logs {run.id}`")

result = run.find_step_run("train")[0].get_output_data("result_dataset")
candidate = Dataset.Tabular.from_parquet_files(
    path=(result.datastore, f"{result.path_on_datastore}/result.parquet"))
new = candidate.to_pandas_dataframe().iloc[0]
try:
    current = Dataset.get_by_name(ws, "immo_model")
    old_score = float(current.to_pandas_dataframe()["score"][0])
except NotFoundError:
    current, old_score = None, None

if current is None or new["score"] > old_score:
    kept = candidate.register(ws, "immo_model", create_new_version=True,
                              description=f"price ~ surface, trained on {table}",
                              tags={"score": f"{new['score']:.4f}", "table": table, "run": run.id})
    before = ("no model yet" if current is None
              else f"version {current.version} scored {old_score:.4f}")
    print(f"kept: immo_model version {kept.version} (R^2 {new['score']:.4f}, {before})")
else:
    print(f"discarded: R^2 {new['score']:.4f} on {table} is not better than immo_model "
          f"version {current.version} ({old_score:.4f})")
