"""Publish the sales-forecast pipeline: prepare -> two trainers side by side -> compare.

Everything it reads and writes lives in the blob container registered as the datastore 'lake'.
The ridge trainer's regularisation is a pipeline parameter ('alpha', set per submission with
`amlocal run submit-pipeline -p alpha=...`). Writes the published id to lakehouse.id.
"""
from azureml.core import Dataset, Datastore, Workspace
from azureml.core.conda_dependencies import CondaDependencies
from azureml.core.runconfig import RunConfiguration
from azureml.data import OutputFileDatasetConfig
from azureml.pipeline.core import Pipeline, PipelineData, PipelineParameter
from azureml.pipeline.steps import PythonScriptStep

ws = Workspace.from_config()
lake = Datastore.get(ws, "lake")
run_config = RunConfiguration(conda_dependencies=CondaDependencies.create(
    pip_packages=["pandas", "scikit-learn", "azureml-defaults"]))

sales = Dataset.File.from_files((lake, "raw/sales.csv"))
calendar = Dataset.File.from_files((lake, "raw/calendar.csv"))
features = PipelineData("features", datastore=lake)
alpha = PipelineParameter("alpha", default_value=1.0)
linear = OutputFileDatasetConfig("linear_model", destination=(lake, "models/{run-id}/{output-name}"))
forest = OutputFileDatasetConfig("forest_model", destination=(lake, "models/{run-id}/{output-name}"))
best = OutputFileDatasetConfig("best_model", destination=(lake, "best/{run-id}")).register_on_complete(
    "best_sales_model")

common = dict(source_directory="src", runconfig=run_config)
prepare = PythonScriptStep("prepare.py", name="prepare",
                           arguments=["--sales", sales.as_named_input("sales").as_mount(),
                                      "--features", features],
                           outputs=[features], **common)
train_linear = PythonScriptStep("train_linear.py", name="train_linear",
                                arguments=["--features", features, "--alpha", alpha,
                                           "--model", linear],
                                inputs=[features], **common)
train_forest = PythonScriptStep("train_forest.py", name="train_forest",
                                arguments=["--features", features,
                                           "--calendar", calendar.as_named_input("calendar").as_mount(),
                                           "--model", forest],
                                inputs=[features], **common)
compare = PythonScriptStep("compare.py", name="compare",
                           arguments=["--candidates", linear.as_input("linear"),
                                      forest.as_input("forest"), "--best", best], **common)

pipeline = Pipeline(ws, steps=[compare])  # the trainers and prepare are pulled in as upstream
published = pipeline.publish(name="SalesForecast", description="Prepare, train two models, keep the best")
open("lakehouse.id", "w").write(published.id)
print(f"published pipeline {published.id}")
