import argparse
import os

from azureml.core import Dataset, Run
from azureml.core.model import Model


def init():
    global threshold, labels
    parser = argparse.ArgumentParser(description="Start a length classifier.")
    parser.add_argument("--model_name", dest="model_name", required=True)
    parser.add_argument("--labels_name", dest="labels_name", required=True)
    args, _ = parser.parse_known_args()
    workspace = Run.get_context(allow_offline=False).experiment.workspace
    label_ds = Dataset.get_by_name(workspace=workspace, name=args.labels_name)
    label_ds.download(target_path="labels_dir", overwrite=True)
    with open(os.path.join("labels_dir", "labels.txt")) as f:
        labels = f.read().split()
    with open(Model.get_model_path(args.model_name)) as f:
        threshold = int(f.read())


def run(mini_batch):
    results = []
    for image in mini_batch:
        with open(image) as f:
            size = len(f.read())
        results.append(os.path.basename(image) + ": " + labels[int(size > threshold)])
    return results
