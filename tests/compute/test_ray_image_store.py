"""A shared image store on Azure Blob (Azurite): the host saves an environment's image there once
per digest, a Ray node that lacks the image loads it from there. The node (a one-node
``ray.cluster_utils.Cluster`` of this machine, 1 CPU and 1 GiB) reaches the store with the
credentials in its own environment (``AZURE_STORAGE_CONNECTION_STRING``, as adlfs reads it).
Without ray, Docker or Azurite these tests skip locally and FAIL under $CI."""
from __future__ import annotations

import uuid

import pytest

from amlocal.compute import EnvironmentSpec, StepSpec, get_backend


@pytest.fixture
def blob_cluster(azurite, docker_engine, tmp_path, monkeypatch, ray_clusters):
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string())
    with ray_clusters.running([ray_clusters.node()], node_dir=tmp_path / "nodes") as cluster:
        yield cluster


def test_a_node_loads_the_image_from_a_blob_store(blob_cluster, tmp_path, base_image,
                                                  amlocal_home, docker_engine):
    import fsspec
    spec = EnvironmentSpec(name="ray-blob-store", user_managed=True,
                           environment_variables={"RAY_BLOB_TEST": uuid.uuid4().hex})
    store = f"az://amlocal-images-{uuid.uuid4().hex[:8]}/envs"
    backend = get_backend("ray", address=blob_cluster.address, image_store=store)
    env = backend.prepare(spec, log=lambda line: None)
    keep = f"amlocal-ray-test-keep:{uuid.uuid4().hex[:12]}"
    try:
        fs, root = fsspec.core.url_to_fs(store)
        assert fs.ls(root, detail=False) == [f"{root}/{env.digest}.tar"]   # no partial left
        docker_engine.images.get(env.image).tag(keep)
        docker_engine.images.remove(env.image)
        wd = tmp_path / "wd"
        wd.mkdir()
        handle = backend.submit(StepSpec(run_id="ray-blob", step_name="blob", working_dir=str(wd),
                                         command=("python", "-c", "print('ran')")), env)
        lines = list(handle.lines())
        assert handle.wait() == 0, lines
        assert f"loaded from the image store {store}" in lines[0] and lines[1:] == ["ran"]
        assert docker_engine.images.get(env.image)
    finally:
        for tag in (env.image, keep):
            try:
                docker_engine.images.remove(tag, force=True)
            except Exception:  # noqa: BLE001 - gone already
                pass
