"""ExecutePythonScriptStep end to end in containers: a two-step Studio pipeline, its outputs
downloaded through get_output_data, its images as artifacts, and a failing script's traceback."""
from __future__ import annotations

import textwrap
import zipfile

import pytest

pytestmark = pytest.mark.usefixtures("docker_engine")

FIRST = """
import pandas as pd

def azureml_main(dataframe1=None, dataframe2=None):
    print("ROWS", len(dataframe1), "INDEX", list(dataframe1.index), "D2", dataframe2)
    out = pd.DataFrame({"price": dataframe1["price"] * 2})
    out[1] = dataframe1["surface"]
    out["dup"] = [1, 2, 3]
    out.insert(3, "dup", [4, 5, 6], allow_duplicates=True)
    out.index = [7, 8, 9]
    return out,
"""

SECOND = """
import struct, zlib
import shapes

def _png():
    return b"\\x89PNG\\r\\n\\x1a\\n" + b"".join(
        struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
        for t, d in [(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)),
                     (b"IDAT", zlib.compress(b"\\x00\\x00")), (b"IEND", b"")])

def azureml_main(dataframe1=None, dataframe2=None):
    print("COLUMNS", list(dataframe1.columns))
    open("one.png", "wb").write(_png())
    open("two.png", "wb").write(_png())
    dataframe1["area"] = dataframe1["1"].map(shapes.double)
    print("HELLO FROM THE BUNDLE", shapes.double(21))
    return dataframe1,
"""


def test_a_two_step_studio_pipeline(workspace, tmp_path):
    import pandas as pd
    from amlocal.core import Dataset, Datastore
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import ExecutePythonScriptStep

    lake = tmp_path / "lake"
    lake.mkdir()
    (lake / "flats.csv").write_text("surface,price\n20,100\n30,\n40,300\n")
    store = Datastore.register(workspace, "lake", url=str(lake))
    flats = Dataset.Tabular.from_delimited_files((store, "flats.csv"))
    script = tmp_path / "first.py"
    script.write_text(FIRST)
    bundle = tmp_path / "bundle.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.writestr("shapes.py", "def double(x):\n    return x * 2\n")

    first = ExecutePythonScriptStep(str(script), dataframe1=flats, name="prepare")
    second = ExecutePythonScriptStep(SECOND, dataframe1=first.result_dataset,
                                     script_bundle=str(bundle), name="plot it")
    assert second.result_dataset.name == "plot_it_result_dataset"
    assert second.sandbox == {"network": False}
    run = Pipeline(workspace, [second]).submit("studio")
    assert run.wait_for_completion(show_output=False) == "Finished"
    steps = {s.name: s for s in run.get_steps()}
    assert "ROWS 3 INDEX [0, 1, 2] D2 None" in steps["prepare"].get_job_log()
    log = steps["plot it"].get_job_log()
    assert "COLUMNS ['price', '1', 'dup', 'dup (2)']" in log
    assert "HELLO FROM THE BUNDLE 42" in log

    result = steps["plot it"].get_output_data("result_dataset")
    assert result.name == "plot_it_result_dataset" and result.datastore_name
    assert result.download(str(tmp_path / "dl"), show_progress=False) == 1  # the file count
    folder = f"{tmp_path / 'dl'}/{result.path_on_datastore}"
    frame = pd.read_parquet(f"{folder}/result.parquet")
    assert list(frame.columns) == ["price", "1", "dup", "dup (2)", "area"]
    assert list(frame.index) == [0, 1, 2]
    assert frame["price"].tolist()[0] == 200 and pd.isna(frame["price"][1])
    assert frame["area"].tolist() == [40, 60, 80]

    device_port = steps["plot it"].get_output_data("python_device")
    assert device_port.download(str(tmp_path / "dev"), show_progress=False) == 4
    device = f"{tmp_path / 'dev'}/{device_port.path_on_datastore}"
    import os
    assert sorted(os.listdir(device)) == ["index.html", "one.png", "stdout.txt", "two.png"]
    with open(f"{device}/one.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with open(f"{device}/stdout.txt") as f:
        assert "HELLO FROM THE BUNDLE 42" in f.read()
    assert {"python_device/one.png", "python_device/two.png",
            "python_device/index.html"} <= set(steps["plot it"].get_file_names())


def test_a_failing_script_shows_its_traceback_line_in_the_log(workspace, tmp_path):
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import ExecutePythonScriptStep

    code = textwrap.dedent("""
        def azureml_main(dataframe1=None, dataframe2=None):
            total = 0
            return 1 / total
    """)
    step = ExecutePythonScriptStep(code, name="broken")
    run = Pipeline(workspace, [step]).submit("studio-fail")
    assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"
    log = next(run.get_steps()).get_job_log()
    assert 'azureml_user_script.py", line 4, in azureml_main' in log
    assert "return 1 / total" in log and "ZeroDivisionError: division by zero" in log


def test_the_studio_stack_is_added_to_a_copy_of_the_runconfig(workspace):
    from amlocal.core.conda_dependencies import CondaDependencies
    from amlocal.core.runconfig import RunConfiguration
    from amlocal.errors import UserErrorException
    from amlocal.pipeline.steps import ExecutePythonScriptStep

    rc = RunConfiguration(conda_dependencies=CondaDependencies.create(pip_packages=["numpy"]))
    step = ExecutePythonScriptStep("def azureml_main(a=None, b=None):\n    return a,\n", runconfig=rc)
    assert list(rc.environment.python.conda_dependencies.pip_packages) == ["numpy"]
    assert set(step.runconfig.environment.python.conda_dependencies.pip_packages) == {
        "numpy", "pandas", "pyarrow", "scipy", "scikit-learn", "matplotlib"}
    again = ExecutePythonScriptStep("def azureml_main(a=None, b=None):\n    return a,\n")
    assert again.source_directory == step.source_directory  # content-addressed
    with pytest.raises(UserErrorException, match="defines no azureml_main"):
        ExecutePythonScriptStep("def main():\n    pass\n")
    with pytest.raises(UserErrorException, match="was not found"):
        ExecutePythonScriptStep("missing.py")
