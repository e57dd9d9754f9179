"""Dataset transformations survive being passed to a step: a filtered, column-selected or split
TabularDataset reads the same rows inside the container as on the host, a FileDataset selection
mounts only the selected files, and an output read as a table applies keep_columns /
drop_columns / random_split in the step that consumes it."""
from __future__ import annotations

import textwrap

import pytest

pytestmark = pytest.mark.usefixtures("docker_engine")


def _src(tmp_path, **scripts):
    folder = tmp_path / "src"
    folder.mkdir(exist_ok=True)
    for name, text in scripts.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(text))
    return str(folder)


READ = """
    import os
    from azureml.core import Run
    run = Run.get_context()
    for name in ("people", "part0", "part1"):
        frame = run.input_datasets[name].to_pandas_dataframe()
        print("TABLE", name, list(frame.columns), frame["id"].tolist())
    picked = sorted(os.path.join(d, f)[len("/amlocal/inputs/picked"):]
                    for d, _, fs in os.walk("/amlocal/inputs/picked") for f in fs)
    print("PICKED", picked)
    print("DIRECT", run.input_datasets["big"].to_path())
"""


def test_transformed_datasets_read_the_same_rows_in_the_step(workspace, tmp_path):
    from amlocal.core import Dataset, Datastore
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep

    root = tmp_path / "lake"
    (root / "files" / "sub").mkdir(parents=True)
    (root / "people.csv").write_text("id,name,score\n" + "".join(
        f"{i},n{i},{i * 3}\n" for i in range(40)))
    for i, size in enumerate([10, 500, 20, 800]):
        (root / "files" / ("sub" if i > 1 else "") / f"f{i}.bin").write_bytes(b"x" * size)
    lake = Datastore.register(workspace, "lake", url=str(root))
    people = Dataset.Tabular.from_delimited_files((lake, "people.csv"))
    chosen = people.filter(people["score"] > 30).keep_columns(["id", "name"])
    part0, part1 = people.random_split(0.5, seed=11)
    files = Dataset.File.from_files((lake, "files"))
    big = files.filter(files.file_metadata("Size") > 100)
    step = PythonScriptStep("read.py", name="read", source_directory=_src(tmp_path, read=READ),
                            inputs=[chosen.as_named_input("people"), part0.as_named_input("part0"),
                                    part1.as_named_input("part1"),
                                    files.skip(1).take(2).as_named_input("picked").as_mount(),
                                    big.as_named_input("big")])
    run = Pipeline(workspace, [step]).submit("transforms")
    assert run.wait_for_completion(show_output=False) == "Finished"
    log = next(run.get_steps()).get_job_log()
    host = chosen.to_pandas_dataframe()["id"].tolist()
    assert host == list(range(11, 40))
    assert f"TABLE people ['id', 'name'] {host}" in log
    for name, part in (("part0", part0), ("part1", part1)):
        assert f"TABLE {name} ['id', 'name', 'score'] {part.to_pandas_dataframe()['id'].tolist()}" \
            in log
    assert "PICKED ['/f1.bin', '/sub/f2.bin']" in log
    assert "DIRECT ['/f1.bin', '/sub/f3.bin']" in log


def test_outputs_read_as_tables_apply_their_transformations(workspace, tmp_path):
    from amlocal.core.conda_dependencies import CondaDependencies
    from amlocal.core.runconfig import RunConfiguration
    from amlocal.data import OutputFileDatasetConfig
    from amlocal.pipeline.core import Pipeline, PipelineData
    from amlocal.pipeline.steps import PythonScriptStep

    rc = RunConfiguration(conda_dependencies=CondaDependencies.create(
        pip_packages=["pandas", "azureml-defaults"]))
    src = _src(tmp_path, write="""
        import os, sys
        for folder in sys.argv[1:]:
            os.makedirs(folder, exist_ok=True)
            open(os.path.join(folder, "t.csv"), "w").write(
                "x,y\\n" + "".join(f"{i},{i * 2}\\n" for i in range(100)))
    """, read="""
        from azureml.core import Run
        inputs = Run.get_context().input_datasets
        for name in ("kept", "dropped", "first", "second"):
            frame = inputs[name].to_pandas_dataframe()
            print("OUT", name, list(frame.columns), len(frame), int(frame["x"].sum()))
    """)
    table = OutputFileDatasetConfig("table")
    data = PipelineData("data")
    write = PythonScriptStep("write.py", name="write", arguments=[table, data], outputs=[data],
                             runconfig=rc, source_directory=src)
    first, second = data.as_dataset().parse_delimited_files().random_split(0.25, seed=5)
    read = PythonScriptStep("read.py", name="read", runconfig=rc, source_directory=src, inputs=[
        table.read_delimited_files().keep_columns(["x"]).as_input("kept"),
        data.as_dataset().parse_delimited_files().drop_columns("y").as_named_input("dropped"),
        first.as_named_input("first"), second.as_named_input("second")])
    run = Pipeline(workspace, [read, write]).submit("output_transforms")
    assert run.wait_for_completion(show_output=False) == "Finished"
    log = run.find_step_run("read")[0].get_job_log()
    assert "OUT kept ['x'] 100 4950" in log and "OUT dropped ['x'] 100 4950" in log
    lines = {line.split()[1]: line.split() for line in log.splitlines() if line.startswith("OUT ")}
    a, b = lines["first"], lines["second"]
    assert int(a[-2]) + int(b[-2]) == 100 and int(a[-1]) + int(b[-1]) == 4950
    assert 10 < int(a[-2]) < 40
