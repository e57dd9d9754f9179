from azureml.core import Run

run = Run.get_context()
run.log("step", "train")
print("In train.py")
