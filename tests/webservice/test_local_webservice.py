"""Model.deploy to a LocalWebservice: a container that calls init() once and run() per request."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import urllib.request

import pytest

pytestmark = pytest.mark.usefixtures("docker_engine")

SCORE = """
    import json, os
    from azureml.core.model import Model

    def init():
        global factor, calls
        calls = 0
        factor = float(open(Model.get_model_path("factor")).read())
        print("INIT", os.environ["AZUREML_MODEL_DIR"])

    def run(raw_data):
        global calls
        calls += 1
        data = json.loads(raw_data)["data"]
        if data == "boom":
            raise ValueError("the input is not a list")
        return {"result": [v * factor for v in data], "calls": calls}
"""


def test_deployed_model_serves_until_deleted(workspace, tmp_path, home):
    from amlocal.core import Model
    from amlocal.core.webservice import LocalWebservice, Webservice
    from amlocal.errors import UserErrorException, WebserviceException

    app = tmp_path / "app"
    app.mkdir()
    (app / "score.py").write_text(textwrap.dedent(SCORE))
    (tmp_path / "factor.txt").write_text("2.5")
    Model.register(workspace, str(tmp_path / "factor.txt"), "factor")

    deploy = textwrap.dedent(f"""
        from amlocal.core import Model, Workspace
        from amlocal.core.model import InferenceConfig
        from amlocal.core.webservice import LocalWebservice
        ws = Workspace("00000000-0000-0000-0000-000000000000", "test-rg", "testws")
        service = Model.deploy(ws, "scorer", [Model(ws, "factor")],
                               InferenceConfig(entry_script="score.py", source_directory={str(app)!r}),
                               LocalWebservice.deploy_configuration())
        service.wait_for_deployment()
        print(service.scoring_uri)
    """)
    out = subprocess.run([sys.executable, "-c", deploy], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    uri = out.stdout.split()[-1]

    service = Webservice(workspace, "scorer")  # found again after the deploying process exited
    try:
        assert service.scoring_uri == uri
        assert service.run({"data": [1, 2]}) == {"result": [2.5, 5.0], "calls": 1}
        request = urllib.request.Request(uri, data=json.dumps({"data": [4]}).encode())
        assert json.loads(urllib.request.urlopen(request, timeout=30).read())["calls"] == 2  # init once
        with pytest.raises(WebserviceException, match="500.*the input is not a list"):
            service.run({"data": "boom"})
        assert "INIT azureml-models/factor/1" in service.get_logs()
        assert [w.name for w in Webservice.list(workspace)] == ["scorer"]
        from amlocal.core.model import InferenceConfig
        with pytest.raises(UserErrorException, match="already exists"):
            Model.deploy(workspace, "scorer", [Model(workspace, "factor")],
                         InferenceConfig(entry_script="score.py", source_directory=str(app)),
                         LocalWebservice.deploy_configuration())
    finally:
        service.delete()
    assert Webservice.list(workspace) == []
    with pytest.raises(WebserviceException, match="no service named 'scorer'"):
        Webservice(workspace, "scorer")


def test_missing_entry_script_is_refused_before_anything_starts(workspace, tmp_path):
    from amlocal.core import Model
    from amlocal.core.model import InferenceConfig
    from amlocal.errors import UserErrorException
    with pytest.raises(UserErrorException, match="entry script 'nope.py' was not found"):
        Model.deploy(workspace, "x", [], InferenceConfig(entry_script="nope.py",
                                                        source_directory=str(tmp_path)))


def test_webservice_commands_and_run_download(workspace, tmp_path):
    from click.testing import CliRunner
    from amlocal.cli import cli
    from amlocal.core import Experiment
    run = Experiment(workspace, "files").start_logging()
    (tmp_path / "a.png").write_bytes(b"\x89PNG")
    run.upload_file("python_device/a.png", str(tmp_path / "a.png"))
    run.upload_file("outputs/x.txt", str(tmp_path / "a.png"))
    ws = ["-w", "testws", "-g", "test-rg"]
    out = CliRunner().invoke(cli, ["run", "download", run.id, "--prefix", "python_device/",
                                   "-t", str(tmp_path / "dl"), *ws])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "dl" / "python_device" / "a.png").read_bytes() == b"\x89PNG"
    assert not (tmp_path / "dl" / "outputs").exists()
    listed = CliRunner().invoke(cli, ["webservice", "list", "-o", "json", *ws])
    assert listed.exit_code == 0 and json.loads(listed.output) == []
    missing = CliRunner().invoke(cli, ["webservice", "show", "nope", *ws])
    assert missing.exit_code == 1 and "no service named 'nope'" in missing.output
