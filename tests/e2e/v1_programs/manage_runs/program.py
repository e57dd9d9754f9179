# A v1 "manage runs" program: interactive runs, submitted script runs, tags, properties,
# children, cancel, fail and snapshots, written as Azure ML users wrote them.
import os
import zipfile

import azureml.core
from azureml.core import Experiment, Run, ScriptRunConfig, Workspace

print(azureml.core.VERSION)
ws = Workspace("00000000-0000-0000-0000-000000000000", "samples-rg", "samples-ws")
exp = Experiment(workspace=ws, name="explore-runs")

notebook_run = exp.start_logging()
notebook_run.log(name="message", value="Hello from run!")
print(notebook_run.get_status())
print(notebook_run)
print(notebook_run.get_details()["status"])
notebook_run.complete()
print("AFTER COMPLETE", notebook_run.get_status())

with exp.start_logging() as notebook_run:
    notebook_run.log(name="message", value="Hello from run!")
    print("Is it still running?", notebook_run.get_status())
print("Has it completed?", notebook_run.get_status())

run_config = ScriptRunConfig(source_directory=".", script="hello.py")
local_script_run = exp.submit(run_config)
print(local_script_run.get_status())
local_script_run.wait_for_completion(show_output=True)
details = local_script_run.get_details_with_logs()
print("LOGS", sorted(details["logFiles"]))
print("SCRIPT STATUS", local_script_run.get_status())

local_script_run.add_properties({"author": "azureml-user"})
print(local_script_run.get_properties())
try:
    local_script_run.add_properties({"author": "different-user"})
    print("PROPERTY CHANGED")
except Exception as e:
    print("PROPERTY KEPT:", type(e).__name__)
local_script_run.tag("quality", "great run")
local_script_run.tag("quality", "fantastic run")
local_script_run.tag("worth another look")
print(local_script_run.get_tags())
found = list(exp.get_runs(properties={"author": "azureml-user"}, tags={"quality": "fantastic run"}))
print("FOUND BY DICT", [r.id for r in found] == [local_script_run.id])
found = list(exp.get_runs(properties={"author": "azureml-user"}, tags="worth another look"))
print("FOUND BY NAME", [r.id for r in found] == [local_script_run.id])

children_run = exp.submit(ScriptRunConfig(source_directory=".", script="hello_with_children.py"))
children_run.wait_for_completion(show_output=True)
print("CHILDREN", len(list(children_run.get_children())), children_run.get_status())

with exp.start_logging() as parent_run:
    for c, count in enumerate(range(5)):
        with parent_run.child_run() as child:
            child.log(name="Hello from child run", value=c)
print("CHILD STATUSES", sorted({c.get_status() for c in parent_run.get_children()}))

run_config = ScriptRunConfig(source_directory=".", script="hello_with_delay.py")
local_script_run = exp.submit(run_config)
print("Did the run start?", local_script_run.get_status())
local_script_run.cancel()
local_script_run.wait_for_completion(raise_on_error=False)
print("Did the run cancel?", local_script_run.get_status())

local_script_run = exp.submit(run_config)
local_script_run.fail()
local_script_run.wait_for_completion(raise_on_error=False)
print("FAILED", local_script_run.get_status())

snapshot = local_script_run.restore_snapshot(path="snapshots")
print("SNAPSHOT HAS hello.py", "hello.py" in zipfile.ZipFile(snapshot).namelist(), os.path.isfile(snapshot))
