from azureml.core import Run

Run.get_context().log("step", "compare")
print("In compare.py")
