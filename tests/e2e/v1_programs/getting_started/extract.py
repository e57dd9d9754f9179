from azureml.core import Run

Run.get_context().log("step", "extract")
print("In extract.py")
