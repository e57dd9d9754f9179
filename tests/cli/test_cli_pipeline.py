"""`amlocal pipeline ...` and `amlocal run submit-pipeline` on a pipeline published in the test.

Publishing freezes and snapshots the pipeline without starting a container; every submission
here is refused before a run is created, so no runner and no Docker are involved.
"""
from __future__ import annotations

import json

import pytest


WS = ["-w", "pipews", "-g", "piperg"]


@pytest.fixture
def published(amlocal, tmp_path):
    """A published one-step pipeline with a parameter; returns its id."""
    assert amlocal("workspace", "create", *WS).exit_code == 0
    from amlocal.core.workspace import Workspace
    from amlocal.pipeline.core import Pipeline, PipelineParameter
    from amlocal.pipeline.steps import PythonScriptStep
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text("import sys\nprint('training', sys.argv[1:])\n")
    ws = Workspace.get("pipews", resource_group="piperg")
    lr = PipelineParameter("learning_rate", default_value=0.1)
    step = PythonScriptStep("train.py", name="train", arguments=["--lr", lr],
                            source_directory=str(src))
    return Pipeline(ws, [step]).publish(name="High Spenders v2", description="demo",
                                        version="2.0").id


def test_list_and_show(amlocal, published):
    listed = amlocal("pipeline", "list", *WS, "-o", "json")
    assert listed.exit_code == 0, listed.output
    [entry] = json.loads(listed.stdout)
    assert entry["id"] == published and entry["name"] == "High Spenders v2"
    assert entry["status"] == "Active" and entry["totalRunSteps"] == 1
    assert entry["parameters"] == {"learning_rate": 0.1}

    shown = json.loads(amlocal("pipeline", "show", published, *WS, "-o", "json").stdout)
    assert shown["version"] == "2.0" and shown["description"] == "demo"
    assert [(s["name"], s["script"]) for s in shown["steps"]] == [("train", "train.py")]

    table = amlocal("pipeline", "show", published, *WS)
    assert table.exit_code == 0
    assert "learning_rate" in table.stdout and "Steps:" in table.stdout
    assert any(line.split()[:2] == ["train", "train.py"] for line in table.stdout.splitlines())


def test_show_without_workspace_flags_uses_the_pipelines_workspace(amlocal, published):
    shown = amlocal("pipeline", "show", published, "-o", "json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["id"] == published
    unknown = amlocal("pipeline", "show", "0000-nope")
    assert unknown.exit_code == 1
    assert "no published pipeline with id 0000-nope" in unknown.stderr


def test_disable_enable_and_submit_disabled(amlocal, published):
    disabled = amlocal("pipeline", "disable", published, *WS)
    assert disabled.exit_code == 0 and "Disabled" in disabled.stdout
    assert json.loads(amlocal("pipeline", "list", *WS, "-o", "json").stdout) == []
    every = json.loads(amlocal("pipeline", "list", "--all", *WS, "-o", "json").stdout)
    assert [(p["id"], p["status"]) for p in every] == [(published, "Disabled")]
    assert "--all" in amlocal("pipeline", "list", *WS).stdout

    refused = amlocal("run", "submit-pipeline", "-i", published, *WS, "--wait")
    assert refused.exit_code == 1
    errors = [line for line in refused.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "is Disabled and cannot be submitted" in errors[0]
    assert f"amlocal pipeline enable {published}" in errors[0]
    assert "Pipeline was submitted" not in refused.stdout
    from amlocal.store import open_store
    assert open_store().list_runs() == []  # nothing was started

    enabled = amlocal("pipeline", "enable", published, *WS)
    assert enabled.exit_code == 0 and "Active" in enabled.stdout
    assert [p["status"] for p in json.loads(amlocal("pipeline", "list", *WS, "-o", "json").stdout)] == ["Active"]


@pytest.mark.parametrize("value, message", [
    ("learning_rate", "'learning_rate' is not NAME=VALUE"),
    ("=0.5", "'=0.5' is not NAME=VALUE"),
    ("learning_rate=1,learning_rate=2", "'learning_rate' is given twice"),
    ("nosuch=1", "Pipeline parameter with name nosuch does not exist. Known parameters: learning_rate"),
    ("learning_rate=fast", "takes a float (default 0.1); 'fast' cannot be converted"),
])
def test_parameter_errors(amlocal, published, value, message):
    result = amlocal("run", "submit-pipeline", "-i", published, "-p", value, *WS)
    assert result.exit_code == 1, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output and "Pipeline was submitted" not in result.stdout


def test_parse_pairs_keeps_strings_and_splits_on_first_equals():
    from amlocal.cli._common import parse_pairs
    assert parse_pairs("a=1,b=x=y, c = 3,", "-p", "") == {"a": "1", "b": "x=y", "c": " 3"}
    assert parse_pairs(None, "-p", "") == {}


def test_unsupported_flags_are_refused_clearly(amlocal, published, tmp_path):
    yaml = amlocal("run", "submit-pipeline", "-y", str(tmp_path / "p.yml"), *WS)
    assert yaml.exit_code == 1 and "add -n/--experiment-name" in yaml.stderr
    both = amlocal("run", "submit-pipeline", "-y", str(tmp_path / "p.yml"), "-i", published,
                   "-n", "e", *WS)
    assert both.exit_code == 1 and "not both" in both.stderr
    missing = amlocal("run", "submit-pipeline", "-y", str(tmp_path / "p.yml"), "-n", "e", *WS)
    assert missing.exit_code == 1 and "p.yml does not exist" in missing.stderr
    datapaths = amlocal("run", "submit-pipeline", "-i", published, "-d", "p=store/path", *WS)
    assert datapaths.exit_code == 1 and "no datastore named 'store'" in datapaths.stderr
    no_path = amlocal("run", "submit-pipeline", "-i", published, "-d", "p=store", *WS)
    assert no_path.exit_code == 1 and "'store' is not DATASTORE/PATH" in no_path.stderr
    not_a_path = amlocal("run", "submit-pipeline", "-i", published, "-d",
                         "learning_rate=workspaceblobstore/x", *WS)
    assert not_a_path.exit_code == 1 and "takes a float" in not_a_path.stderr
    neither = amlocal("run", "submit-pipeline", *WS)
    assert neither.exit_code == 1 and "-i/--pipeline-id" in neither.stderr
    unknown = amlocal("run", "submit-pipeline", "-i", "not-an-id", *WS)
    assert unknown.exit_code == 1 and "no published pipeline with id not-an-id" in unknown.stderr
