from azureml.core import Run

run = Run.get_context()
run.log("message", "Hello from a submitted run")
print("Hello Azure ML!")
