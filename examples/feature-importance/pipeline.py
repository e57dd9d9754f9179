"""Rank the wine features in one Execute Python Script step, then download and print the ranking.

Written as for Azure ML v1 (Studio's module as `ExecutePythonScriptStep`); only the imports say
`amlocal`.
"""
import sys
from pathlib import Path

import pandas as pd

from amlocal.core import Experiment, Workspace
from amlocal.core.compute import AmlCompute
from amlocal.core.conda_dependencies import CondaDependencies
from amlocal.core.runconfig import RunConfiguration
from amlocal.pipeline.core import Pipeline
from amlocal.pipeline.steps import ExecutePythonScriptStep

ws = Workspace.from_config()
cluster = AmlCompute(ws, "cpu-cluster")
run_config = RunConfiguration(conda_dependencies=CondaDependencies.create(
    pip_packages=["pandas", "pyarrow", "scikit-learn", "azureml-defaults"]))

rank = ExecutePythonScriptStep("rank_features.py", name="rank features",
                               runconfig=run_config, compute_target=cluster)
pipeline = Pipeline(workspace=ws, steps=[rank])
run = Experiment(ws, "feature-importance").submit(pipeline)
status = run.wait_for_completion(show_output=True, raise_on_error=False)
if status != "Finished":
    sys.exit(f"run {run.id} ended {status}; see `amlocal run logs {run.id}`")

step_run = run.find_step_run("rank features")[0]
result = step_run.get_output_data("result_dataset")
result.download("outputs", show_progress=False)  # to outputs/<its path on the datastore>/
folder = Path("outputs") / result.path_on_datastore
ranking = pd.read_parquet(Path(folder) / "result.parquet")
print(f"feature ranking (run {run.id}, saved under {folder}):")
for row in ranking.itertuples(index=False):
    print(f"{row.rank:>3}. {row.feature:<30} {row.importance:.3f} +- {row.spread:.3f}")
