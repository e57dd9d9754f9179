# A v1 "logging API" program: every kind of metric, an image, an uploaded file.
import os

import numpy as np

import azureml.core
from azureml.core import Experiment, Run, Workspace

print("SDK version:", azureml.core.VERSION)
ws = Workspace("00000000-0000-0000-0000-000000000000", "samples-rg", "samples-ws")
print("Workspace name: " + ws.name, "Azure region: " + ws.location,
      "Subscription id: " + ws.subscription_id, "Resource group: " + ws.resource_group, sep="\n")
exp = Experiment(workspace=ws, name="logging-api-test")

run = exp.start_logging()
run.log(name="Name", value="Logging API run")
run.log(name="Magic Number", value=42)
run.log_list(name="Fibonacci", value=[0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89])
sines = {"angle": [], "sine": []}
for i in range(-10, 10):
    run.log(name="Sigmoid", value=1 / (1 + np.exp(-i)))
    angle = i / 2.0
    run.log_row(name="Cosine Wave", angle=angle, cos=np.cos(angle))
    sines["angle"].append(angle)
    sines["sine"].append(np.sin(angle))
run.log_table(name="Sine Wave", value=sines)
run.complete()

# Even after the run is marked completed, you can still log things.
with open("plot.png", "wb") as f:
    f.write(bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                          "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"))
run.log_image(name="Hyperbolic Tangent", path="plot.png")

with open("myfile.txt", "w") as f:
    f.write("This is a dummy file.")
props = run.upload_file(name="myfile_in_the_cloud.txt", path_or_stream="./myfile.txt")
print("UPLOADED", props.serialize())

metrics = run.get_metrics()
print("METRICS", sorted(metrics))
print("SIGMOID COUNT", len(metrics["Sigmoid"]), "MAGIC", metrics["Magic Number"])
print("FILES", run.get_file_names())
os.makedirs("files", exist_ok=True)
for f in run.get_file_names():
    dest = os.path.join("files", f.split("/")[-1])
    print("Downloading file {} to {}...".format(f, dest))
    run.download_file(f, dest)
print("DOWNLOADED", sorted(os.listdir("files")))
