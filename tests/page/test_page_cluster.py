"""Issue 12's whole picture on this machine: a real two-node Ray cluster (nodes labelled
``node_a`` and ``node_b``), the store on a real PostgreSQL, the store's files on an Azure Blob
container (Azurite). Two compute targets attached with ``amlocal compute attach`` pin a
pipeline's two steps to different nodes; each step's files travel to its node and back through
Ray, and the steps reach the step API over TLS. The run finishes; its metrics, logs, outputs and
model land in the shared store and container; the studio page (a real server on the same store,
in headless Chromium) shows the run, its steps and a step's log and metric.
"""
from __future__ import annotations

import re
import textwrap
import uuid

import pytest

PREPARE = """
    import os, sys
    from azureml.core import Run
    from nodeinfo import node_id

    run = Run.get_context()
    print("NODE", node_id(), "SERVICE", os.environ["AMLOCAL_RUN_SERVICE"].split(":")[0])
    os.makedirs(sys.argv[2], exist_ok=True)
    open(os.path.join(sys.argv[2], "rows.txt"), "w").write("3 5 8 13")
    run.log("rows", 4)
    print("prepared four rows", flush=True)
"""

TRAIN = """
    import os, sys
    from azureml.core import Model, Run
    from nodeinfo import node_id

    run = Run.get_context()
    print("NODE", node_id(), "SERVICE", os.environ["AMLOCAL_RUN_SERVICE"].split(":")[0])
    values = [int(v) for v in open(os.path.join(sys.argv[2], "rows.txt")).read().split()]
    for epoch in range(3):
        run.log("loss", round(1.0 / (epoch + 1), 3))
        print(f"epoch {epoch}", flush=True)
    os.makedirs("outputs", exist_ok=True)
    open("outputs/model.txt", "w").write(str(sum(values)))
    Model.register(run.experiment.workspace, "outputs/model.txt", "cluster-model",
                   tags={"rows": str(len(values))})
    print("trained on", sum(values), flush=True)
"""


@pytest.fixture
def cluster(ray_clusters, tmp_path):
    """Two labelled nodes of 1 CPU and 1 GiB each."""
    with ray_clusters.running([ray_clusters.node(node_a=1), ray_clusters.node(node_b=1)],
                              node_dir=tmp_path / "nodes") as nodes:
        yield nodes


def _node_ids(nodes) -> dict[str, str]:
    """Ray node id of each label."""
    import ray
    from amlocal.compute.ray import connect
    connect(nodes.address)
    found = {}
    for node in ray.nodes():
        for label in ("node_a", "node_b"):
            if node.get("Alive") and label in node.get("Resources", {}):
                found[label] = node["NodeID"]
    return found


def test_a_pipeline_over_two_nodes_with_a_shared_store_shows_on_the_page(
        home, docker_engine, postgres_url, azurite, cluster, tmp_path, monkeypatch, page,
        open_page, request, ray_clusters):
    from azure.storage.blob import BlobServiceClient
    from click.testing import CliRunner

    from amlocal.cli import cli
    from amlocal.core import Model, Workspace
    from amlocal.pipeline.core import Pipeline, PipelineData
    from amlocal.pipeline.steps import PythonScriptStep

    container = f"cluster-{uuid.uuid4().hex[:10]}"
    blobs = BlobServiceClient.from_connection_string(azurite.connection_string())
    blobs.create_container(container)
    monkeypatch.setenv("AMLOCAL_STORE_URL", postgres_url)
    monkeypatch.setenv("AMLOCAL_ARTIFACTS_URL", f"az://{container}/team")
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string())

    ws = Workspace.create("cluster-ws", resource_group="cluster-rg",
                          subscription_id="00000000-0000-0000-0000-000000000000")
    runner = CliRunner()
    for label in ("a", "b"):
        result = runner.invoke(cli, ["compute", "attach", f"ray-{label}", "--address",
                                     cluster.address, "--resources", f"node_{label}=1",
                                     "-w", "cluster-ws", "-g", "cluster-rg", "-o", "json"])
        assert result.exit_code == 0, result.output
        assert f'"node_{label}": 1' in result.output

    src = tmp_path / "src"
    src.mkdir()
    (src / "prepare.py").write_text(textwrap.dedent(PREPARE))
    (src / "train.py").write_text(textwrap.dedent(TRAIN))
    (src / "nodeinfo.py").write_text(ray_clusters.NODE_INFO)
    data = PipelineData("rows", datastore=ws.get_default_datastore())
    prepare = PythonScriptStep("prepare.py", name="prepare", source_directory=str(src),
                               arguments=["--out", data], outputs=[data],
                               compute_target="ray-a", allow_reuse=False)
    train = PythonScriptStep("train.py", name="train", source_directory=str(src),
                             arguments=["--data", data], inputs=[data],
                             compute_target="ray-b", allow_reuse=False)
    run = Pipeline(ws, [prepare, train]).submit("over-nodes")
    status = run.wait_for_completion(show_output=False, raise_on_error=False)
    steps = {s.name: s for s in run.get_steps()}
    assert status == "Finished", "\n".join(
        [f"--- {n} ---\n{s.get_job_log()}" for n, s in steps.items()])

    # each step ran on the node its target pins, and reached the step API over TLS
    ids = _node_ids(cluster)
    for name, label in (("prepare", "node_a"), ("train", "node_b")):
        log = steps[name].get_job_log()
        found = re.search(r"NODE (\S+) SERVICE (\S+)", log)
        assert found, log
        assert found.group(1) == ids[label], (name, found.group(1), ids)
        assert found.group(2) == "https"
    assert "trained on 29" in steps["train"].get_job_log()

    # metrics, logs, outputs and the model are in the shared store and its container
    assert steps["prepare"].get_metrics()["rows"] == 4
    assert steps["train"].get_metrics()["loss"] == [1.0, 0.5, 0.333]
    model = Model(ws, "cluster-model")
    assert model.version == 1 and model.tags == {"rows": "4"}
    names = sorted(b.name for b in blobs.get_container_client(container).list_blobs())
    train_id = steps["train"].id
    for expected in (f"team/artifacts/{train_id}/outputs/model.txt",
                     f"team/artifacts/{train_id}/logs/user_logs/std_log.txt",
                     f"team/models/{ws._id}/cluster-model/1/model.txt"):
        assert expected in names, (expected, names)
    assert not (home / "artifacts").exists() or not any((home / "artifacts").iterdir())

    # the studio page of a server on the same store shows the run, its steps and a step's log
    studio = request.getfixturevalue("studio")   # started now: on this store; `home` stops it
    open_page(page, studio, f"#/run/{run.id}", ready="svg.graph g.node")
    assert "Finished" in page.inner_text("#run-status")
    assert page.locator("svg.graph g.node").count() == 2
    open_page(page, studio, f"#/run/{train_id}", ready="figure[data-metric=loss] svg.chart")
    page.wait_for_function(
        "document.querySelector('#run-log').textContent.includes('trained on 29')")
    assert "epoch 2" in page.inner_text("#run-log")
    chart = page.locator("figure[data-metric=loss] svg.chart")
    assert "3 values, last 0.333" in chart.get_attribute("aria-label")
