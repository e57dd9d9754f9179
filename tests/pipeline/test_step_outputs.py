"""A step run's outputs after the run: StepRun.get_outputs / get_output / get_output_data,
StepRunOutput, PortDataReference (its fields, download with Azure's layout and file count) and a
previous run's output fed to a step of another pipeline."""
from __future__ import annotations

import os
import textwrap

import pytest

pytestmark = pytest.mark.usefixtures("docker_engine")


def _src(tmp_path, **scripts):
    folder = tmp_path / "src"
    folder.mkdir(exist_ok=True)
    for name, text in scripts.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(text))
    return str(folder)


def test_step_outputs_download_and_feed_a_later_pipeline(workspace, tmp_path):
    from amlocal.data import OutputFileDatasetConfig
    from amlocal.pipeline.core import (Pipeline, PipelineData, PortDataReference, StepRunOutput)
    from amlocal.pipeline.core.run import RUNNING_STATES
    from amlocal.pipeline.steps import PythonScriptStep
    src = _src(tmp_path, produce="""
        import os, sys
        model, model2, table = sys.argv[1:4]
        os.makedirs(os.path.join(model, "sub"), exist_ok=True)
        open(os.path.join(model, "m.txt"), "w").write("weights")
        open(os.path.join(model, "sub", "n.txt"), "w").write("more")
        os.makedirs(model2, exist_ok=True)
        open(os.path.join(model2, "other.txt"), "w").write("other")
        os.makedirs(table, exist_ok=True)
        open(os.path.join(table, "t.csv"), "w").write("a\\n1\\n")
    """, consume="""
        import os, sys
        for folder in sys.argv[1:]:
            found = sorted(os.path.relpath(os.path.join(d, f), folder)
                           for d, _, files in os.walk(folder) for f in files)
            print("SEEN", found)
    """)
    model, model2 = PipelineData("model"), PipelineData("model2")
    table = OutputFileDatasetConfig("table")
    produce = PythonScriptStep("produce.py", name="produce", source_directory=src,
                               arguments=[model, model2, table], outputs=[model, model2])
    run = Pipeline(workspace, [produce]).submit("outputs")
    assert run.wait_for_completion(show_output=False) == "Finished"
    step = run.find_step_run("produce")[0]

    outputs = step.get_outputs()
    assert set(outputs) == {"model", "model2", "table"}
    out = step.get_output("model")
    assert isinstance(out, StepRunOutput) and out.name == "model" and out.pipeline_run_id == run.id
    assert out.step_run.id == step.id
    with pytest.raises(KeyError, match="has no output 'nope'; its outputs: model, model2, table"):
        step.get_output("nope")
    with pytest.raises(KeyError):
        step.get_output_data("nope")

    port = step.get_output_data("model")
    assert isinstance(port, PortDataReference)
    assert port.name == port.data_reference_name == "model" and port.pipeline_run_id == run.id
    assert port.datastore_name == workspace.get_default_datastore().name == port.datastore.name
    assert port.path_on_datastore == f"azureml/{step.id}/model"
    assert str(port) == "$AZUREML_DATAREFERENCE_model"
    # Azure's download: the full datastore path below local_path, the file count returned, and
    # a plain string prefix (so model2's file comes along)
    target = tmp_path / "dl"
    assert port.download(str(target), show_progress=False) == 3
    assert (target / port.path_on_datastore / "m.txt").read_text() == "weights"
    assert (target / port.path_on_datastore / "sub" / "n.txt").read_text() == "more"
    assert (target / f"azureml/{step.id}/model2/other.txt").is_file()
    with pytest.warns(UserWarning):
        assert port.download(str(target), show_progress=False) == 0  # kept, not overwritten
    assert port.download(str(target), overwrite=True, show_progress=False) == 3
    table_port = step.get_output("table").get_port_data_reference()
    assert table_port.path_on_datastore.endswith("/table")
    assert "NotStarted" in RUNNING_STATES and "Finished" not in RUNNING_STATES

    with pytest.raises(ValueError, match=r"Input \[prev\] has an invalid mode \[upload\]"):
        port.create_input_binding("prev", "upload")
    assert port.as_mount().name == "model" and port.as_input("x").bind_mode == "mount"

    # a previous run's outputs as inputs of a step in another pipeline
    previous = port.as_download("prev")
    consume = PythonScriptStep("consume.py", name="consume", source_directory=src,
                               arguments=[previous, table_port], inputs=[previous, table_port])
    later = Pipeline(workspace, [consume]).submit("outputs-later")
    assert later.wait_for_completion(show_output=False) == "Finished"
    log = later.find_step_run("consume")[0].get_job_log()
    assert f"SEEN {sorted(['m.txt', os.path.join('sub', 'n.txt')])}" in log
    assert "SEEN ['t.csv']" in log


def test_pipeline_data_parsed_as_a_table_by_the_next_step(workspace, tmp_path):
    from amlocal.core.conda_dependencies import CondaDependencies
    from amlocal.core.runconfig import RunConfiguration
    from amlocal.pipeline.core import Pipeline, PipelineData
    from amlocal.pipeline.core.pipeline_output_dataset import PipelineOutputTabularDataset
    from amlocal.pipeline.steps import PythonScriptStep
    rc = RunConfiguration(conda_dependencies=CondaDependencies.create(
        pip_packages=["pandas", "pyarrow", "azureml-defaults"]))
    src = _src(tmp_path, write="""
        import os, sys
        os.makedirs(sys.argv[1], exist_ok=True)
        open(os.path.join(sys.argv[1], "a.csv"), "w").write("x;y\\n1;2\\n3;4\\n")
        open(os.path.join(sys.argv[1], "notes.txt"), "w").write("not a table")
    """, read="""
        import sys
        from azureml.core import Run
        frame = Run.get_context().input_datasets["rows"].to_pandas_dataframe()
        print("ROWS", len(frame), "SUM", int(frame["y"].sum()), "ARG", sys.argv[1] != "")
    """)
    data = PipelineData("table")
    write = PythonScriptStep("write.py", name="write", arguments=[data], outputs=[data],
                             runconfig=rc, source_directory=src)
    rows = data.as_dataset().parse_delimited_files(separator=";", file_extension=".csv") \
        .as_named_input("rows")
    assert isinstance(rows, PipelineOutputTabularDataset)
    read = PythonScriptStep("read.py", name="read", arguments=[rows], runconfig=rc,
                            source_directory=src)  # in arguments only: added to the inputs
    assert write.outputs == [data]
    run = Pipeline(workspace, [read]).submit("parsed")  # 'write' comes in as read's producer
    assert run.wait_for_completion(show_output=False) == "Finished"
    assert "ROWS 2 SUM 6 ARG True" in run.find_step_run("read")[0].get_job_log()
