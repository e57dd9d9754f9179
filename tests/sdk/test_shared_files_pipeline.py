"""Two machines sharing one store: PostgreSQL for the metadata, an Azure Blob container (in
Azurite) for the files (``AMLOCAL_ARTIFACTS_URL``). A pipeline runs in a container from the
first home; its logs, outputs, registered model and snapshot land in the container, and a
second home (another machine: its own ``AMLOCAL_HOME``, nothing local) reads them all, and
reruns the step from the snapshot the first one stored.
"""
from __future__ import annotations

import textwrap
import uuid
import zipfile

import pytest

pytestmark = pytest.mark.usefixtures("docker_engine")

WS_ARGS = ("shared-ws", "shared-rg")


def _blobs(azurite, container: str) -> list[str]:
    from azure.storage.blob import BlobServiceClient
    client = BlobServiceClient.from_connection_string(azurite.connection_string())
    return sorted(b.name for b in client.get_container_client(container).list_blobs())


def _machine(monkeypatch, home, pg_url, artifacts_url, azurite) -> None:
    monkeypatch.setenv("AMLOCAL_HOME", str(home))
    monkeypatch.setenv("AMLOCAL_STORE_URL", pg_url)
    monkeypatch.setenv("AMLOCAL_ARTIFACTS_URL", artifacts_url)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string())


def test_a_pipeline_on_postgres_and_blob_is_read_from_a_second_home(
        home, postgres_url, azurite, tmp_path, monkeypatch, capsys):
    from azure.storage.blob import BlobServiceClient
    from click.testing import CliRunner

    from amlocal.cli import cli
    from amlocal.core import Model, Run, Workspace
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.core._rerun import rerun_step
    from amlocal.pipeline.steps import PythonScriptStep

    container = f"team-{uuid.uuid4().hex[:10]}"
    BlobServiceClient.from_connection_string(
        azurite.connection_string()).create_container(container)
    url = f"az://{container}/amlocal"
    _machine(monkeypatch, home, postgres_url, url, azurite)

    ws = Workspace.create(WS_ARGS[0], resource_group=WS_ARGS[1],
                          subscription_id="00000000-0000-0000-0000-000000000000")
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(textwrap.dedent("""
        import os
        from amlocal.core import Model, Run
        run = Run.get_context()
        run.log("accuracy", 0.93)
        os.makedirs("outputs", exist_ok=True)
        open("outputs/model.txt", "w").write("weights-42")
        Model.register(run.experiment.workspace, "outputs/model.txt", "shared-model")
        print("TRAINED ON SHARED FILES")
    """))
    step = PythonScriptStep("train.py", name="train", source_directory=str(src),
                            allow_reuse=False)
    run = Pipeline(ws, [step]).submit("shared")
    assert run.wait_for_completion(show_output=False) == "Finished"
    train = next(iter(run.get_steps()))
    digest = train.get_snapshot_id()
    assert digest

    blobs = _blobs(azurite, container)
    for expected in (f"amlocal/artifacts/{train.id}/logs/user_logs/std_log.txt",
                     f"amlocal/artifacts/{train.id}/outputs/model.txt",
                     f"amlocal/artifacts/{run.id}/logs/amlocal/pipeline.log",
                     f"amlocal/models/{ws._id}/shared-model/1/model.txt",
                     f"amlocal/models/{ws._id}/shared-model/1.manifest.json",
                     f"amlocal/snapshots/{digest}/train.py",
                     f"amlocal/snapshots/{digest}.manifest.json"):
        assert expected in blobs, (expected, blobs)
    assert not (home / "artifacts").exists() and not (home / "models").exists()

    # -- the second machine: another home, the same store and container ----------------------
    other = tmp_path / "second-home"
    _machine(monkeypatch, other, postgres_url, url, azurite)
    ws2 = Workspace.get(WS_ARGS[0], resource_group=WS_ARGS[1])
    seen = Run.get(ws2, train.id)
    assert {"outputs/model.txt", "logs/user_logs/std_log.txt"} <= set(seen.get_file_names())
    seen.download_file("outputs/model.txt", str(tmp_path / "got" / "model.txt"))
    assert (tmp_path / "got" / "model.txt").read_text() == "weights-42"
    assert "TRAINED ON SHARED FILES" in seen.get_job_log()
    model = Model(ws2, "shared-model")
    assert model.url == f"az://{container}/amlocal/models/{ws._id}/shared-model/1/model.txt"
    path = model.download(str(tmp_path / "model-dl"))
    assert open(path).read() == "weights-42"
    zipped = seen.restore_snapshot(path=str(tmp_path / "zips"))
    assert zipfile.ZipFile(zipped).read("train.py").decode() == (src / "train.py").read_text()
    logs = CliRunner().invoke(cli, ["run", "logs", train.id, "-w", WS_ARGS[0],
                                    "-g", WS_ARGS[1]], catch_exceptions=False)
    assert logs.exit_code == 0 and "TRAINED ON SHARED FILES" in logs.stdout

    # the second machine runs the step again from the snapshot the first one stored
    again = rerun_step(ws2, run.id, "train")
    assert again.wait_for_completion(show_output=False) == "Finished"
    assert (other / "snapshots" / digest / "train.py").is_file()   # fetched into its cache
    assert Model(ws2, "shared-model").version == 2
    rerun = next(iter(again.get_steps()))
    assert f"amlocal/artifacts/{rerun.id}/outputs/model.txt" in _blobs(azurite, container)
    assert not (other / "artifacts").exists() and not (other / "models").exists()
