# A v1 program that tracks with MLflow through the workspace's tracking URI, as the v1 sample
# "Use MLflow with Azure Machine Learning" does, then reads the run back with the v1 Run API.
import mlflow

from azureml.core import Experiment, Run, Workspace

ws = Workspace("00000000-0000-0000-0000-000000000000", "samples-rg", "samples-ws")
mlflow.set_tracking_uri(ws.get_mlflow_tracking_uri())

experiment_name = "experiment_with_mlflow"
mlflow.set_experiment(experiment_name)

with mlflow.start_run() as mlflow_run:
    mlflow.log_param("hello_param", "world")
    mlflow.log_metric("hello_metric", 0.5)
    for epoch in range(3):
        mlflow.log_metric("loss", 1.0 / (epoch + 1), step=epoch)
    mlflow.set_tag("stage", "sample")
    with open("helloworld.txt", "w") as handle:
        handle.write("Hello, world!")
    mlflow.log_artifact("helloworld.txt")
    with mlflow.start_run(nested=True) as child:
        mlflow.log_metric("child_metric", 1)
    run_id = mlflow_run.info.run_id

run = Run(Experiment(ws, experiment_name), run_id)
metrics = run.get_metrics()
print("STATUS", run.get_status())
print("HELLO METRIC", metrics["hello_metric"])
print("LOSS", metrics["loss"])
print("TAG", run.get_tags().get("stage"))
print("FILES", run.get_file_names())
print("CHILDREN", [c.id == child.info.run_id for c in run.get_children()])
print("RUNS", len(list(Experiment(ws, experiment_name).get_runs())))
