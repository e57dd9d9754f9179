"""Publish the plotting pipeline, run it once as a batch job and write the ids for run.sh.

The pipeline is a Studio canvas: a web service input whose example frame ("Enter Data": 60
points in three clusters, fixed seed) feeds batch runs and fixes the schema, the plotting script,
and a web service output. Writes plots.id (the published pipeline) and plots.step_run_id (the
batch run's plotting step, whose python_device/*.png files run.sh downloads).
"""
import random
import sys

import pandas as pd

from amlocal.core import Experiment, Workspace
from amlocal.core.compute import AmlCompute
from amlocal.core.conda_dependencies import CondaDependencies
from amlocal.core.runconfig import RunConfiguration
from amlocal.pipeline.core import Pipeline, WebServiceInput, WebServiceOutput
from amlocal.pipeline.steps import ExecutePythonScriptStep


def example_points(seed: int = 11) -> pd.DataFrame:
    rng = random.Random(seed)
    rows = [(rng.gauss(cx, 0.8), rng.gauss(cy, 0.8), group)
            for group, cx, cy in (("north", 2, 7), ("east", 7, 4), ("south", 3, 1))
            for _ in range(20)]
    return pd.DataFrame(rows, columns=["x", "y", "group"])


ws = Workspace.from_config()
cluster = AmlCompute(ws, "cpu-cluster")
run_config = RunConfiguration(conda_dependencies=CondaDependencies.create(
    pip_packages=["pandas", "pyarrow", "matplotlib", "azureml-defaults"]))

points = WebServiceInput("input1", example=example_points())
plot = ExecutePythonScriptStep("plot.py", dataframe1=points, name="plot",
                               runconfig=run_config, compute_target=cluster)
pipeline = Pipeline(workspace=ws, steps=[
    plot, WebServiceOutput("output1", source=plot.result_dataset)])
published = pipeline.publish(name="plots",
                             description="scatter plot of points, as PNG and as a cell")
with open("plots.id", "w") as handle:
    handle.write(published.id)
print(f"published pipeline {published.id}")

run = Experiment(ws, "plots").submit(published)
if run.wait_for_completion(show_output=True, raise_on_error=False) != "Finished":
    sys.exit(f"run {run.id} failed; see `amlocal run logs {run.id}`")
step_run = run.find_step_run("plot")[0]
with open("plots.step_run_id", "w") as handle:
    handle.write(step_run.id)
images = [name for name in step_run.get_file_names() if name.endswith(".png")]
print(f"batch run {run.id}: step run {step_run.id} saved {', '.join(images)}")
