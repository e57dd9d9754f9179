"""Step reuse that explains itself, outputs of every kind, and parameters per submission."""
from __future__ import annotations

import json
import textwrap

import pytest
from click.testing import CliRunner

pytestmark = pytest.mark.usefixtures("docker_engine")

PREPARE = """
    import os, sys
    raw, out = sys.argv[1], sys.argv[2]
    rows = [int(x) for x in open(raw).read().split()[1:]]
    os.makedirs(out, exist_ok=True)
    open(os.path.join(out, "clean.txt"), "w").write(" ".join(map(str, rows)))
    print("PREPARE ran")
"""
TRAIN = """
    import json, os, sys
    clean, config, out, scale = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    rows = [int(x) for x in open(os.path.join(clean, "clean.txt")).read().split()]
    factor = json.load(open(config))["factor"]
    open(os.path.join(out, "model.json"), "w").write(json.dumps({"w": sum(rows) * factor * scale}))
    print("TRAIN ran", os.path.basename(config))
"""
COMPARE = """
    import json, os, sys
    a, b, out = sys.argv[1], sys.argv[2], sys.argv[3]
    wa = json.load(open(os.path.join(a, "model.json")))["w"]
    wb = json.load(open(os.path.join(b, "model.json")))["w"]
    os.makedirs(out, exist_ok=True)
    open(os.path.join(out, "best.txt"), "w").write("a" if wa >= wb else "b")
    print("COMPARE ran", wa, wb)
"""


@pytest.fixture
def lake(workspace, tmp_path):
    folder = tmp_path / "lake"
    (folder / "raw").mkdir(parents=True)
    (folder / "raw" / "numbers.csv").write_text("n\n1\n2\n3\n")
    (folder / "config").mkdir()
    (folder / "config" / "a.json").write_text('{"factor": 1}')
    (folder / "config" / "b.json").write_text('{"factor": 2}')
    from amlocal.core import Datastore
    return Datastore.register(workspace, "lake", url=folder.as_uri())


def _pipeline(workspace, tmp_path, lake):
    from amlocal.core import Dataset
    from amlocal.data import OutputFileDatasetConfig
    from amlocal.pipeline.core import Pipeline, PipelineData, PipelineParameter
    from amlocal.pipeline.steps import PythonScriptStep

    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    for name, text in (("prepare", PREPARE), ("train", TRAIN), ("compare", COMPARE)):
        (src / f"{name}.py").write_text(textwrap.dedent(text))
    raw = Dataset.File.from_files((lake, "raw/numbers.csv")).as_named_input("raw").as_mount()
    clean = PipelineData("clean", datastore=lake)
    scale = PipelineParameter("scale", 1)
    steps = [PythonScriptStep("prepare.py", name="prepare", source_directory=str(src),
                              arguments=[raw, clean], outputs=[clean])]
    models = []
    for arm in ("a", "b"):
        config = Dataset.File.from_files((lake, f"config/{arm}.json")).as_named_input(f"config_{arm}")
        model = OutputFileDatasetConfig(f"model_{arm}", destination=(lake, "models/{run-id}/{output-name}"))
        scale_arg = scale if arm == "a" else 1
        steps.append(PythonScriptStep("train.py", name=f"train_{arm}", source_directory=str(src),
                                      arguments=[clean.as_input(f"clean_{arm}"), config.as_mount(),
                                                 model, scale_arg],
                                      inputs=[clean.as_input(f"clean_{arm}")]))
        models.append(model)
    best = OutputFileDatasetConfig("best").register_on_complete("best_arm")
    steps.append(PythonScriptStep("compare.py", name="compare", source_directory=str(src),
                                  arguments=[models[0].as_input("model_a"), models[1].as_input("model_b"),
                                             best]))
    return Pipeline(workspace, steps)


def _decisions(run) -> dict:
    from amlocal.cli.run import reuse_report
    return {s["name"]: (s["decision"], tuple(s["changed"])) for s in reuse_report(run)["steps"]}


def test_unchanged_resubmit_reuses_and_a_changed_file_reruns_exactly_downstream(workspace, tmp_path, lake):
    pipeline = _pipeline(workspace, tmp_path, lake)
    first = pipeline.submit("reuse")
    assert first.wait_for_completion(show_output=False) == "Finished"
    assert set(_decisions(first).values()) == {("ran", ())}
    steps = {s.name: s for s in first.get_steps()}
    best = steps["compare"].get_output_data("best")
    assert best.download(str(tmp_path / "best1"), show_progress=False) == 1
    assert open(f"{tmp_path / 'best1'}/{best.path_on_datastore}/best.txt").read() == "b"
    assert workspace._store.get_dataset(workspace._id, "best_arm").version == 1

    second = pipeline.submit("reuse")
    assert second.wait_for_completion(show_output=False) == "Finished"
    decisions = _decisions(second)
    assert {d for d, _ in decisions.values()} == {"reused"}
    for step in second.get_steps():
        assert step._info.reused_from == steps[step.name].id
        assert step.get_job_log() == ""  # no container ran

    (tmp_path / "lake" / "config" / "b.json").write_text('{"factor": 0}')
    third = pipeline.submit("reuse")
    assert third.wait_for_completion(show_output=False) == "Finished"
    decisions = _decisions(third)
    assert decisions["prepare"][0] == decisions["train_a"][0] == "reused"
    assert decisions["train_b"] == ("ran", ("inputs.config_b",))
    assert decisions["compare"] == ("ran", ("inputs.model_b",))
    third_steps = {s.name: s for s in third.get_steps()}
    best = third_steps["compare"].get_output_data("best")
    best.download(str(tmp_path / "best3"), show_progress=False)
    assert open(f"{tmp_path / 'best3'}/{best.path_on_datastore}/best.txt").read() == "a"

    out = CliRunner().invoke(__import__("amlocal.cli", fromlist=["cli"]).cli,
                             ["run", "show", third.id, "--reuse", "-o", "json"])
    assert out.exit_code == 0, out.output
    report = {s["name"]: s for s in json.loads(out.output)["steps"]}
    assert report["train_b"]["reason"].endswith("inputs.config_b")
    assert report["prepare"]["reusedFrom"] == steps["prepare"].id


def test_parameters_force_and_regenerate(workspace, tmp_path, lake):
    pipeline = _pipeline(workspace, tmp_path, lake)
    pipeline.submit("params").wait_for_completion(show_output=False)
    changed = pipeline.submit("params", pipeline_parameters={"scale": 5})
    changed.wait_for_completion(show_output=False)
    decisions = _decisions(changed)
    assert decisions["train_a"] == ("ran", ("arguments", "parameters.AML_PARAMETER_scale"))
    assert decisions["train_b"][0] == "reused" and decisions["prepare"][0] == "reused"
    regenerated = pipeline.submit("params", regenerate_outputs=True)
    regenerated.wait_for_completion(show_output=False)
    assert {d for d, _ in _decisions(regenerated).values()} == {"ran"}
    from amlocal.cli.run import reuse_report
    assert all("regenerate_outputs" in s["reason"] for s in reuse_report(regenerated)["steps"])


def test_rerun_one_step_and_open_a_shell_in_it(workspace, tmp_path, lake):
    import os
    import subprocess
    from amlocal.pipeline.core._rerun import rerun_step

    pipeline = _pipeline(workspace, tmp_path, lake)
    first = pipeline.submit("rerun")
    assert first.wait_for_completion(show_output=False) == "Finished"
    old = {s.name: s for s in first.get_steps()}["train_b"]

    again = rerun_step(workspace, first.id, "train_b")
    assert again.wait_for_completion(show_output=False) == "Finished"
    (step,) = list(again.get_steps())
    assert step.properties["amlocal.rerun_of"] == old.id
    assert again.properties["amlocal.rerun_of_pipeline"] == first.id
    assert "TRAIN ran b.json" in step.get_job_log()
    assert step._info.definition["arguments"] == old._info.definition["arguments"]

    shell = subprocess.run(
        ["amlocal", "run", "rerun-step", first.id, "train_b", "--shell"],
        input="ls /amlocal/inputs/clean_b\n$AMLOCAL_STEP_COMMAND\nexit 0\n", text=True,
        capture_output=True, timeout=300, env={**os.environ})
    assert shell.returncode == 0, shell.stderr
    assert "clean.txt" in shell.stdout and "TRAIN ran b.json" in shell.stdout
    assert "$AMLOCAL_STEP_COMMAND" in shell.stderr
