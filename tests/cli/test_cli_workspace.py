"""The `amlocal` command line: workspace commands, workspace selection (-w/-g/config), the error
contract (one plain line, exit status 1, no traceback) and the installed console script."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from amlocal.cli import cli

ZERO_SUB = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def amlocal(home, tmp_path, monkeypatch):
    """Invoke the CLI in-process, in a folder without any config.json."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(cli, list(args), catch_exceptions=False)
    return invoke


def assert_one_line_error(result, *fragments):
    assert result.exit_code == 1, (result.exit_code, result.output)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def test_workspace_create_list_show_json(amlocal):
    created = amlocal("workspace", "create", "-w", "ws1", "-g", "rg1", "-o", "json")
    assert created.exit_code == 0, created.output
    info = json.loads(created.stdout)
    assert (info["name"], info["resourceGroup"], info["subscriptionId"]) == ("ws1", "rg1", ZERO_SUB)
    assert info["defaultDatastore"] == "workspaceblobstore"
    assert "created" in created.stderr

    second = amlocal("workspace", "create", "-w", "ws2", "-g", "rg2", "--subscription-id", "sub-b",
                     "-o", "json")
    assert json.loads(second.stdout)["subscriptionId"] == "sub-b"

    listed = json.loads(amlocal("workspace", "list", "-o", "json").stdout)
    assert sorted((w["name"], w["resourceGroup"]) for w in listed) == [("ws1", "rg1"), ("ws2", "rg2")]
    only = json.loads(amlocal("workspace", "list", "-g", "rg2", "-o", "json").stdout)
    assert [w["name"] for w in only] == ["ws2"]

    shown = amlocal("workspace", "show", "-w", "ws1", "-o", "json")
    assert shown.exit_code == 0
    assert json.loads(shown.stdout)["id"] == info["id"]

    table = amlocal("workspace", "list")
    assert table.exit_code == 0
    header, *rows = table.stdout.splitlines()
    assert header.split()[:3] == ["NAME", "RESOURCE", "GROUP"]
    assert any(r.split()[:2] == ["ws1", "rg1"] for r in rows)
    assert all(line == line.rstrip() for line in table.stdout.splitlines())


def test_create_existing_needs_exist_ok(amlocal):
    first = json.loads(amlocal("workspace", "create", "-w", "ws1", "-g", "rg1", "-o", "json").stdout)
    again = amlocal("workspace", "create", "-w", "ws1", "-g", "rg1")
    assert_one_line_error(again, "already exists", "--exist-ok")
    ok = amlocal("workspace", "create", "-w", "ws1", "-g", "rg1", "--exist-ok", "-o", "json")
    assert ok.exit_code == 0
    assert json.loads(ok.stdout)["id"] == first["id"]
    assert "already existed" in ok.stderr


def test_invalid_workspace_name_is_one_line(amlocal):
    result = amlocal("workspace", "create", "-w", "x", "-g", "rg1")
    assert_one_line_error(result, "workspace name 'x' is not valid")


def test_selection_by_name_group_and_errors(amlocal):
    a = json.loads(amlocal("workspace", "create", "-w", "shared", "-g", "rg-a", "-o", "json").stdout)
    b = json.loads(amlocal("workspace", "create", "-w", "shared", "-g", "rg-b", "-o", "json").stdout)
    assert a["id"] != b["id"]

    ambiguous = amlocal("workspace", "show", "-w", "shared")
    assert_one_line_error(ambiguous, "ambiguous", "rg-a", "rg-b", "(-g)")

    picked = amlocal("workspace", "show", "-w", "shared", "-g", "rg-b", "-o", "json")
    assert picked.exit_code == 0
    assert json.loads(picked.stdout)["id"] == b["id"]

    unknown = amlocal("workspace", "show", "-w", "nosuchws")
    assert_one_line_error(unknown, "no workspace named 'nosuchws'", "shared (resource group rg-a)")

    group_alone = amlocal("workspace", "show", "-g", "rg-a")
    assert_one_line_error(group_alone, "-w/--workspace-name")


def test_no_selection_explains_both_options(amlocal):
    result = amlocal("workspace", "show")
    message = assert_one_line_error(result, "no workspace selected")
    assert "-w/--workspace-name" in message and "config.json" in message


def test_config_file_selects_the_workspace(amlocal, tmp_path):
    project = tmp_path / "project"
    created = amlocal("workspace", "create", "-w", "cfgws", "-g", "rg1", "--write-config",
                      "--path", str(project), "-o", "json")
    assert created.exit_code == 0, created.output
    config = json.loads((project / ".azureml" / "config.json").read_text())
    assert config["Scope"].endswith("/workspaces/cfgws")

    nested = project / "src" / "deep"
    nested.mkdir(parents=True)
    shown = amlocal("workspace", "show", "--path", str(nested), "-o", "json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["id"] == json.loads(created.stdout)["id"]


def test_usage_errors_and_version(amlocal):
    bad_output = amlocal("workspace", "list", "-o", "yaml")
    assert bad_output.exit_code == 2 and "'yaml' is not one of" in bad_output.stderr
    version = amlocal("--version")
    assert version.exit_code == 0 and "amlocal" in version.stdout
    helped = amlocal("run", "submit-pipeline", "-h")
    assert "--pipeline-id" in helped.stdout and "--output_file" in helped.stdout


def test_importing_the_cli_is_light():
    code = ("import sys, amlocal.cli; heavy = [m for m in ('rich', 'sqlalchemy', 'docker', "
            "'pandas', 'fsspec') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_installed_console_script(tmp_path):
    """The real `amlocal` executable from pyproject's [project.scripts]."""
    env = {**os.environ, "AMLOCAL_HOME": str(tmp_path / "home")}
    for var in ("AMLOCAL_STORE_URL", "AZUREML_RUN_ID", "AMLOCAL_RUN_SERVICE"):
        env.pop(var, None)

    def amlocal(*args):
        return subprocess.run(["amlocal", *args], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=120)

    created = amlocal("workspace", "create", "-w", "procws", "-g", "procrg", "-o", "json")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["name"] == "procws"
    listed = amlocal("workspace", "list", "-o", "json")
    assert [w["name"] for w in json.loads(listed.stdout)] == ["procws"]

    unknown = amlocal("workspace", "show", "-w", "missing")
    assert unknown.returncode == 1
    assert "Traceback" not in unknown.stderr
    assert [line for line in unknown.stderr.splitlines() if line.strip()] == [
        line for line in unknown.stderr.splitlines() if line.startswith("Error: ")]
    assert "no workspace named 'missing'" in unknown.stderr

    # Docker is never reached: an unreachable engine is one plain error line too.
    no_engine = subprocess.run(["amlocal", "env", "base"], capture_output=True, text=True, cwd=tmp_path,
                               env={**env, "DOCKER_HOST": "unix:///nonexistent/docker.sock",
                                    "AMLOCAL_BASE_IMAGE": ""}, timeout=120)
    assert no_engine.returncode == 1
    assert no_engine.stderr.startswith("Error: No Docker engine is answering")
    assert len(no_engine.stderr.strip().splitlines()) == 1 and "Traceback" not in no_engine.stderr
