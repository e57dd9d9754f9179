"""The ``ray`` backend as it serves a node on another machine, on a real two-node Ray cluster of
this machine (``ray.cluster_utils.Cluster``: node_a the head, node_b; 1 CPU and 1 GiB each).
The backend always ships a step's folders through Ray's object store and brings the written
files back, so these tests run the path a remote node takes: files out and back (checked), one
upload per content, images a node lacks (loaded from a shared image store, or built on the
node), and ``node_count`` copies. The nodes keep their folders under a folder of this test
(``AMLOCAL_RAY_NODE_DIR``). Without ray or Docker these tests skip locally and FAIL under $CI.
"""
from __future__ import annotations

import os
import threading
import uuid

import pytest

from amlocal.compute import EnvironmentSpec, Mount, StepSpec, get_backend
from amlocal.errors import ComputeError


@pytest.fixture(scope="module")
def node_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("ray-nodes")


@pytest.fixture(scope="module")
def ray_cluster(node_dir, docker_engine, ray_clusters):
    with ray_clusters.running([ray_clusters.node(node_a=1), ray_clusters.node(node_b=1)],
                              node_dir=node_dir) as cluster:
        yield cluster


def _step(tmp_path, name: str, code: str, *, mounts=(), node: str | None = "b",
          **fields) -> StepSpec:
    wd = tmp_path / f"wd-{name}"
    wd.mkdir(exist_ok=True)
    (wd / "script_input.txt").write_text("in the snapshot\n")
    return StepSpec(run_id=f"ray-remote-{name}", step_name=name, command=("python", "-c", code),
                    working_dir=str(wd), mounts=tuple(mounts), labels={"amlocal.test": "ray-r"},
                    resources={"resources": {f"node_{node}": 1}} if node else None, **fields)


WRITER = r"""
import os, sys
print(open("script_input.txt").read().strip())
print(open("/amlocal/inputs/data/data.txt").read().strip())
print(open("/amlocal/single.txt").read().strip())
os.makedirs("outputs/deep", exist_ok=True)
open("outputs/deep/result.txt", "w").write("result\n")
open("/amlocal/out/made.bin", "wb").write(bytes(range(256)) * 4096)
os.symlink("made.bin", "/amlocal/out/alias")
open("script_input.txt", "w").write("changed by the step\n")
try:
    open("/amlocal/inputs/data/new.txt", "w")
except OSError:
    print("inputs read-only")
"""


def test_files_travel_to_the_node_and_back(ray_cluster, tmp_path, six_env, node_dir):
    from amlocal.compute import ray as ray_backend
    inputs, out = tmp_path / "inputs", tmp_path / "out"
    (inputs / "data").mkdir(parents=True)
    (inputs / "data" / "data.txt").write_text("hello from the host\n")
    out.mkdir()
    (out / "kept.txt").write_text("was there\n")
    backend = get_backend("ray", address=ray_cluster.address)
    mounts = (Mount(str(inputs), "/amlocal/inputs", read_only=True),
              Mount(str(out), "/amlocal/out", read_only=False),
              Mount(str(inputs / "data" / "data.txt"), "/amlocal/single.txt"))   # one file
    handle = backend.submit(_step(tmp_path, "files", WRITER, mounts=mounts), six_env)
    lines = list(handle.lines())
    assert handle.wait() == 0, lines
    assert lines == ["in the snapshot", "hello from the host", "hello from the host",
                     "inputs read-only"]
    wd = tmp_path / "wd-files"
    assert (wd / "outputs" / "deep" / "result.txt").read_text() == "result\n"
    assert (wd / "script_input.txt").read_text() == "changed by the step\n"
    assert (out / "made.bin").read_bytes() == bytes(range(256)) * 4096
    assert os.readlink(out / "alias") == "made.bin"
    assert (out / "kept.txt").read_text() == "was there\n"
    assert sorted(p.name for p in (inputs / "data").iterdir()) == ["data.txt"]
    # the step's folder on the node is gone; the read-only input stays cached by its digest
    steps = node_dir / "steps"
    assert not steps.exists() or not any(p for d in steps.iterdir() for p in d.iterdir())
    packs = ray_backend._remote_cache["packs"]._packed
    cached = {p.name for p in (node_dir / "cache").iterdir()}
    assert len(packs) == 4 and len(cached) == 2 and cached < set(packs)   # the inputs' digests

    # a second step with the same input: nothing new is put for it, the node's copy is used
    again = backend.submit(_step(tmp_path, "again", "print(open('/amlocal/inputs/data/"
                                 "data.txt').read().strip())", mounts=mounts[:1]), six_env)
    assert list(again.lines()) == ["hello from the host"] and again.wait() == 0
    assert {p.name for p in (node_dir / "cache").iterdir()} == cached
    assert len(packs) == 4      # its working directory has the content the first one started with


@pytest.mark.parametrize("code, refused", [
    ("import os; os.symlink('/etc/passwd', '/amlocal/out/escape')",
     "'escape' in output folder .*which is a link to '/etc/passwd', out of its folder"),
    ("import os; os.makedirs('/amlocal/out/a'); os.symlink('../../x', '/amlocal/out/a/up')",
     "'a/up' in output folder .*out of its folder"),
])
def test_links_out_of_a_folder_are_refused(ray_cluster, tmp_path, six_env, code, refused):
    out = tmp_path / "out"
    out.mkdir()
    backend = get_backend("ray", address=ray_cluster.address)
    handle = backend.submit(_step(tmp_path, "escape", code,
                                  mounts=(Mount(str(out), "/amlocal/out", read_only=False),)),
                            six_env)
    with pytest.raises(ComputeError, match=refused):
        list(handle.lines())
    assert handle.wait() != 0
    assert not any(p.is_symlink() for p in out.rglob("*"))


def test_what_comes_back_is_checked(tmp_path):
    """The driver's checks on a copy's stream (what a step controls), without a cluster."""
    from amlocal.compute.ray_files import Receiver
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "outside").mkdir()
    (root / "link").symlink_to(tmp_path / "outside")

    def receiver(rank=0, claims=None, copies=1):
        return Receiver("s", {0: str(root)}, rank, {} if claims is None else claims,
                        threading.Lock(), copies)
    for rel in ("../x", "/abs", "a/../../x", "a//b", "./a", "link/x"):
        with pytest.raises(ComputeError, match="refused"):
            receiver().take(("file", 0, rel, 1, 0o644))
    short = receiver()
    short.take(("file", 0, "short.txt", 10, 0o644))
    short.take(("data", b"12345"))
    with pytest.raises(ComputeError, match="announced 10 bytes but brought 5"):
        short.take(("file", 0, "next.txt", 0, 0o644))
    long = receiver()
    long.take(("file", 0, "long.txt", 2, 0o644))
    with pytest.raises(ComputeError, match="announced 2 bytes but brought more"):
        long.take(("data", b"123"))
    assert not (root / "short.txt").exists() and not (root / "long.txt").exists()
    assert not [p for p in root.iterdir() if p.name.startswith(".amlocal-")]
    with pytest.raises(ComputeError, match="folder it does not have"):
        receiver().take(("dir", 3, "x"))
    claims: dict = {}
    first, second = receiver(0, claims, 2), receiver(1, claims, 2)
    first.take(("file", 0, "same.txt", 1, 0o644))
    first.take(("data", b"a"))
    first.close_file()
    with pytest.raises(ComputeError, match="copies 0 and 1 .* both wrote 'same.txt'"):
        second.take(("file", 0, "same.txt", 1, 0o644))
    assert (root / "same.txt").read_text() == "a"


COPY = r"""
import os, sys
rank, count = os.environ["AMLOCAL_NODE_RANK"], os.environ["AMLOCAL_NODE_COUNT"]
print("copy", rank, "of", count)
os.makedirs("outputs", exist_ok=True)
open(f"outputs/part-{rank}.txt", "w").write(rank)
sys.exit(3 if rank == "1" else 0)
"""


def test_node_count_starts_copies_on_distinct_nodes(ray_cluster, tmp_path, six_env):
    import ray
    backend = get_backend("ray", address=ray_cluster.address)
    handle = backend.submit(_step(tmp_path, "copies", COPY, node=None, node_count=2), six_env)
    lines = sorted(handle.lines())
    assert lines == ["[node 0] copy 0 of 2", "[node 1] copy 1 of 2"]
    assert handle.wait() == 3                                  # the first non-zero status
    outputs = tmp_path / "wd-copies" / "outputs"
    assert sorted(p.read_text() for p in outputs.iterdir()) == ["0", "1"]
    alive = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    assert len(set(handle.node_ids)) == 2 and set(handle.node_ids) <= alive

    # two copies writing the same file: an error naming it
    clash = backend.submit(_step(tmp_path, "clash", "import os\nos.makedirs('outputs', "
                                 "exist_ok=True)\nopen('outputs/same.txt', 'w').write('x')",
                                 node=None, node_count=2), six_env)
    with pytest.raises(ComputeError, match=r"copies \d and \d \(AMLOCAL_NODE_RANK\) both wrote "
                                           r"'outputs/same.txt' in the working directory"):
        list(clash.lines())
    assert clash.wait() != 0


# -- images a node lacks ---------------------------------------------------------------------
@pytest.fixture
def own_env(base_image, amlocal_home, docker_engine):
    """A user-managed environment of this test alone (its digest is new), its image removed
    at the end; the test may remove its tag (other tests' images are never touched)."""
    spec = EnvironmentSpec(name="ray-image-test", user_managed=True,
                           environment_variables={"RAY_IMAGE_TEST": uuid.uuid4().hex})
    made = []
    yield spec, made
    for tag in made:
        try:
            docker_engine.images.remove(tag, force=True)
        except Exception:  # noqa: BLE001 - gone already
            pass


def _hide(client, image: str, made: list) -> None:
    """Keep the image's layers under another name, remove its digest tag."""
    keep = f"amlocal-ray-test-keep:{uuid.uuid4().hex[:12]}"
    client.images.get(image).tag(keep)
    made.append(keep)
    client.images.remove(image)
    assert not client.images.list(name=image)


def test_a_node_loads_a_missing_image_from_the_image_store(ray_cluster, tmp_path, own_env,
                                                          docker_engine):
    spec, made = own_env
    store = tmp_path / "images"
    backend = get_backend("ray", address=ray_cluster.address, image_store=str(store))
    env = backend.prepare(spec, log=lambda line: None)
    made.append(env.image)
    assert (store / f"{env.digest}.tar").is_file()           # saved once per digest
    _hide(docker_engine, env.image, made)
    handle = backend.submit(_step(tmp_path, "loaded", "print('ran')"), env)
    lines = list(handle.lines())
    assert handle.wait() == 0, lines
    assert lines[-1] == "ran"
    assert f"image {env.image} was not on Ray node" in lines[0]
    assert f"loaded from the image store {store}" in lines[0]
    assert docker_engine.images.get(env.image)


def test_a_node_builds_a_missing_image_from_the_lock(ray_cluster, tmp_path, own_env,
                                                    docker_engine):
    spec, made = own_env
    backend = get_backend("ray", address=ray_cluster.address)
    env = backend.prepare(spec, log=lambda line: None)
    made.append(env.image)
    built = docker_engine.images.get(env.image).labels["amlocal.digest"]
    _hide(docker_engine, env.image, made)
    handle = backend.submit(_step(tmp_path, "built", "print('ran')"), env)
    lines = list(handle.lines())
    assert handle.wait() == 0, lines
    assert "built on the node from the environment's lock" in lines[0] and lines[-1] == "ran"
    assert docker_engine.images.get(env.image).labels["amlocal.digest"] == built == env.digest


def test_cancel_cancels_every_copy(ray_cluster, tmp_path, six_env, docker_engine):
    backend = get_backend("ray", address=ray_cluster.address)
    handle = backend.submit(_step(tmp_path, "both", "import time\nprint('up', flush=True)\n"
                                  "time.sleep(300)", node=None, node_count=2), six_env)
    lines = handle.lines()
    assert sorted([next(lines), next(lines)]) == ["[node 0] up", "[node 1] up"]
    handle.cancel()
    assert handle.wait() != 0
    assert not docker_engine.containers.list(all=True, filters={"label": "amlocal.test=ray-r"})


def test_attach_configuration_takes_image_and_retry_options(workspace):
    from amlocal.core import ComputeTarget
    from amlocal.core.compute import RayCompute
    from amlocal.errors import ComputeTargetException
    ComputeTarget.attach(workspace, "stored", RayCompute.attach_configuration(
        address="10.0.0.5:6379", image_store="az://images/amlocal", max_retries=2))
    assert ComputeTarget(workspace, "stored").backend_options() == {
        "address": "10.0.0.5:6379", "resources": {}, "image_store": "az://images/amlocal",
        "max_retries": 2}
    backend = get_backend("ray", **ComputeTarget(workspace, "stored").backend_options())
    assert backend.image_source.store == "az://images/amlocal" and backend.max_retries == 2
    pushed = RayCompute.attach_configuration(address="10.0.0.5:6379",
                                             image_registry="10.0.0.5:5000/amlocal")
    assert pushed["image_registry"] == "10.0.0.5:5000/amlocal"
    for bad, message in (({"max_retries": -1}, "max_retries must be a whole number"),
                         ({"image_registry": "r:5000/x", "image_store": "/s"}, "not both"),
                         ({"image_registry": "r:5000/x:tag"}, "without scheme or tag"),
                         ({"image_store": ""}, "non-empty string")):
        with pytest.raises(ComputeTargetException, match=message):
            RayCompute.attach_configuration(address="10.0.0.5:6379", **bad)


def test_an_image_missing_from_the_store_is_a_clear_error(ray_cluster, tmp_path, own_env,
                                                         docker_engine):
    spec, made = own_env
    env = get_backend("ray", address=ray_cluster.address).prepare(spec, log=lambda line: None)
    made.append(env.image)
    _hide(docker_engine, env.image, made)
    empty = tmp_path / "empty-store"
    empty.mkdir()
    backend = get_backend("ray", address=ray_cluster.address, image_store=str(empty))
    handle = backend.submit(_step(tmp_path, "nostore", "print('ran')"), env)
    with pytest.raises(ComputeError, match=f"the image store has no {empty}/{env.digest}.tar "
                                           f"for environment 'ray-image-test'"):
        list(handle.lines())
    assert handle.wait() != 0
