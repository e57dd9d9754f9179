"""An output read as a table by the next step, from Parquet files (read_parquet_files), in real
containers."""
from __future__ import annotations

import textwrap

import pytest

pytestmark = pytest.mark.usefixtures("docker_engine")


def test_parquet_output_is_read_as_a_table_by_the_next_step(workspace, tmp_path):
    from amlocal.core.conda_dependencies import CondaDependencies
    from amlocal.core.runconfig import RunConfiguration
    from amlocal.data import OutputFileDatasetConfig
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep

    rc = RunConfiguration(conda_dependencies=CondaDependencies.create(
        pip_packages=["pandas", "pyarrow", "azureml-defaults"]))
    src = tmp_path / "src"
    src.mkdir()
    (src / "write.py").write_text(textwrap.dedent("""
        import os, sys
        import pandas as pd
        folder = sys.argv[1]
        os.makedirs(os.path.join(folder, "2024"), exist_ok=True)
        pd.DataFrame({"x": [1, 2], "y": [10, 20]}).to_parquet(os.path.join(folder, "2024", "a.parquet"))
        pd.DataFrame({"x": [3], "y": [30]}).to_parquet(os.path.join(folder, "b.parquet"))
        open(os.path.join(folder, "notes.txt"), "w").write("not a table")
    """))
    (src / "read.py").write_text(textwrap.dedent("""
        from azureml.core import Run
        frame = Run.get_context().input_datasets["rows"].to_pandas_dataframe()
        print("ROWS", len(frame), int(frame["x"].sum()), int(frame["y"].sum()))
    """))
    table = OutputFileDatasetConfig("table")
    write = PythonScriptStep("write.py", name="write", arguments=[table], runconfig=rc,
                             source_directory=str(src))
    read = PythonScriptStep("read.py", name="read", runconfig=rc, source_directory=str(src),
                            inputs=[table.read_parquet_files(path_glob="**/*.parquet")
                                    .as_input("rows")])
    run = Pipeline(workspace, [write, read]).submit("parquet-tables")
    assert run.wait_for_completion(show_output=False) == "Finished"
    log = {s.name: s for s in run.get_steps()}["read"].get_job_log()
    assert "ROWS 3 6 60" in log
