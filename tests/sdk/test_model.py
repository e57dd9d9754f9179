"""Model against the real local SQLite store: registration and versions, lookups and their
errors, listing filters, download and Model.get_model_path's search order."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from amlocal.core.model import Model
from amlocal.errors import ModelNotFoundException, UserErrorException, WebserviceException


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.setenv("AMLOCAL_HOME", str(tmp_path / "home"))
    for var in ("AMLOCAL_STORE_URL", "AZUREML_RUN_ID", "AMLOCAL_RUN_SERVICE", "AML_APP_ROOT"):
        monkeypatch.delenv(var, raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    from amlocal.core.workspace import Workspace
    return Workspace("sub", "rg", "ws1")


def _write(path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_register_versions_and_prints_azures_line(ws, capsys):
    for i in range(3):
        _write(Path("outputs/model.pkl"), f"v{i + 1}")
        model = Model.register(ws, "outputs/model.pkl", "sk-model", tags={"area": "diabetes"},
                               properties={"acc": "0.9"}, description="ridge",
                               model_framework=Model.Framework.SCIKITLEARN,
                               model_framework_version="1.4")
        assert (model.name, model.version, model.id) == ("sk-model", i + 1, f"sk-model:{i + 1}")
    assert capsys.readouterr().out.count("Registering model sk-model\n") == 3
    assert model.tags == {"area": "diabetes"} and model.properties == {"acc": "0.9"}
    assert model.description == "ridge" and model.run_id is None
    assert (model.model_framework, model.model_framework_version) == ("ScikitLearn", "1.4")
    assert model.created_time.tzinfo is not None
    assert model.workspace == ws
    assert model.url.startswith("file://") and model.url.endswith("/sk-model/3/model.pkl")
    assert Path(model.url[len("file://"):]).read_text() == "v3"


def test_lookup_latest_version_and_id(ws):
    _write(Path("m.txt"), "one")
    Model.register(ws, "m.txt", "m")
    Path("m.txt").write_text("two")
    Model.register(ws, "m.txt", "m")
    assert Model(ws, "m").version == 2
    assert Model(ws, name="m", version=1).version == 1
    assert Model(ws, id="m:1") == Model(ws, "m", version=1)
    assert Model(ws, id="m").version == 2
    assert set(ws.models) == {"m"} and ws.models["m"].version == 2
    with pytest.raises(WebserviceException, match="one of id or name must be provided"):
        Model(ws)
    with pytest.raises(WebserviceException, match="'<name>:<version>'"):
        Model(ws, id="m:latest")


def test_unknown_model_error_text(ws):
    _write(Path("a.txt"), "a")
    Model.register(ws, "a.txt", "alpha")
    with pytest.raises(WebserviceException) as caught:
        Model(ws, "nope")
    message = str(caught.value)
    assert message.startswith("ModelNotFound: Model with name nope not found in provided workspace")
    assert "alpha" in message
    with pytest.raises(WebserviceException, match="Model with name alpha, version 7 not found"):
        Model(ws, "alpha", version=7)


def test_missing_path_and_name_rule(ws):
    with pytest.raises(FileNotFoundError, match='provided model path "missing.pkl" cannot be found'):
        Model.register(ws, "missing.pkl", "m")
    _write(Path("f.txt"), "x")
    for bad in ("-starts-with-dash", "has space", "a" * 256, "", "sl/ash"):
        with pytest.raises(WebserviceException, match="provided model name .* is invalid"):
            Model.register(ws, "f.txt", bad)
    assert Model.register(ws, "f.txt", "A" + "b" * 254).version == 1
    assert Model.register(ws, "f.txt", "ok.name_1-2").version == 1
    with pytest.raises(WebserviceException, match="Tags must be a dict"):
        Model.register(ws, "f.txt", "m", tags=["a"])
    with pytest.raises(WebserviceException, match="framework version cannot be provided"):
        Model.register(ws, "f.txt", "m", model_framework_version="1.0")
    assert Model.list(ws, name="m") == []


def test_folder_model_and_child_paths(ws, tmp_path):
    _write(Path("bundle/weights.bin"), "w")
    _write(Path("bundle/config/c.json"), "{}")
    _write(Path("bundle/notes.txt"), "skip me")
    whole = Model.register(ws, "bundle", "bundle")
    part = Model.register(ws, "bundle", "bundle", child_paths=["weights.bin", "config"])
    got = Path(whole.download(str(tmp_path / "d1")))
    assert sorted(p.relative_to(got).as_posix() for p in got.rglob("*") if p.is_file()) == \
        ["config/c.json", "notes.txt", "weights.bin"]
    got = Path(part.download(str(tmp_path / "d2")))
    assert got.name == "bundle"
    assert sorted(p.relative_to(got).as_posix() for p in got.rglob("*") if p.is_file()) == \
        ["config/c.json", "weights.bin"]
    with pytest.raises(WebserviceException, match='provided child path "nope" cannot be found'):
        Model.register(ws, "bundle", "bundle", child_paths=["nope"])


def test_list_filters(ws):
    _write(Path("f.txt"), "x")
    Model.register(ws, "f.txt", "a", tags={"stage": "dev"})
    Model.register(ws, "f.txt", "a", tags={"stage": "prod"}, properties={"p": "1"})
    Model.register(ws, "f.txt", "b", tags={"team": "x"}, model_framework="Onnx")
    assert [m.id for m in Model.list(ws)] == ["a:2", "a:1", "b:1"]
    assert [m.id for m in Model.list(ws, latest=True)] == ["a:2", "b:1"]
    assert [m.id for m in Model.list(ws, name="a")] == ["a:2", "a:1"]
    assert [m.id for m in Model.list(ws, tags=["stage"])] == ["a:2", "a:1"]
    assert [m.id for m in Model.list(ws, tags=[["stage", "dev"]])] == ["a:1"]
    assert [m.id for m in Model.list(ws, properties=["p"])] == ["a:2"]
    assert [m.id for m in Model.list(ws, model_framework="Onnx")] == ["b:1"]
    assert Model.list(ws, run_id="some-run") == []
    assert Model(ws, "a", tags=[["stage", "dev"]]).version == 1
    with pytest.raises(UserErrorException, match="Expected tags must be list type"):
        Model.list(ws, tags={"stage": "dev"})
    with pytest.raises(UserErrorException, match="page_count"):
        Model.list(ws, page_count=5)


def test_download_exist_ok(ws, tmp_path):
    _write(Path("model.pkl"), "first")
    model = Model.register(ws, "model.pkl", "m")
    target = tmp_path / "dl"
    path = model.download(str(target))
    assert path == os.path.join(str(target), "model.pkl")
    assert Path(path).read_text() == "first"
    Path(path).write_text("changed locally")
    with pytest.raises(WebserviceException, match="File already exists. To overwrite, set exist_ok"):
        model.download(str(target))
    assert Path(path).read_text() == "changed locally"
    assert model.download(str(target), exist_ok=True) == path
    assert Path(path).read_text() == "first"


def test_get_model_path_with_and_without_workspace(ws):
    _write(Path("src/model.pkl"), "v1")
    Model.register(ws, "src/model.pkl", "m")
    Path("src/model.pkl").write_text("v2")
    Model.register(ws, "src/model.pkl", "m")

    # with a workspace: the latest is downloaded into azureml-models/<name>/<version>/
    path = Model.get_model_path("m", _workspace=ws)
    assert path == os.path.join("azureml-models", "m", "2", "model.pkl")
    assert Path(path).read_text() == "v2"
    # a given version: downloaded next to it
    assert Path(Model.get_model_path("m", version=1, _workspace=ws)).read_text() == "v1"

    # without a workspace (outside a job): the cache, its highest version by default
    assert Model.get_model_path("m") == os.path.join("azureml-models", "m", "2", "model.pkl")
    assert Model.get_model_path("m", version=1) == os.path.join("azureml-models", "m", "1",
                                                                "model.pkl")
    with pytest.raises(WebserviceException, match="version should be an int"):
        Model.get_model_path("m", version="1")

    # last fallback: ./<model_name>
    _write(Path("local-only"), "here")
    assert Model.get_model_path("local-only") == "local-only"
    with pytest.raises(ModelNotFoundException, match="Model ghost not found in cache"):
        Model.get_model_path("ghost")
    with pytest.raises(ModelNotFoundException, match="Model/Version ghost/None not found"):
        Model.get_model_path("ghost", _workspace=ws)


def test_get_model_path_honours_aml_app_root(ws, tmp_path, monkeypatch):
    _write(Path("model.pkl"), "x")
    Model.register(ws, "model.pkl", "m")
    monkeypatch.setenv("AML_APP_ROOT", str(tmp_path / "app"))
    path = Model.get_model_path("m", _workspace=ws)
    assert path == str(tmp_path / "app" / "azureml-models" / "m" / "1" / "model.pkl")


def test_serialize_and_unsupported_updates(ws):
    _write(Path("model.pkl"), "x")
    model = Model.register(ws, "model.pkl", "m", tags={"t": "1"})
    data = model.serialize()
    assert data["id"] == "m:1" and data["name"] == "m" and data["version"] == 1
    assert data["tags"] == {"t": "1"} and data["runId"] is None and data["createdTime"]
    assert Model.deserialize(ws, data) == model
    with pytest.raises(UserErrorException, match="Model.update is not supported"):
        model.update(description="d")
    assert "Model(workspace=" in repr(model) and "id=m:1" in repr(model)
