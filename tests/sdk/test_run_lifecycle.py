"""Interactive runs as Azure ML v1 code uses them: ``with exp.start_logging() as run:``, tracked
outputs, snapshots, children, run queries, model paths, and the compute status helpers. A real
store in a fresh AMLOCAL_HOME; no containers (the submitted-run side is in tests/pipeline)."""
from __future__ import annotations

import os
import zipfile

import pytest


@pytest.fixture
def exp(workspace, tmp_path, monkeypatch):
    from amlocal.core import Experiment
    work = tmp_path / "notebook"
    work.mkdir()
    (work / "train.py").write_text("print('train')\n")
    (work / "data.bin").write_bytes(b"\0" * 10)
    (work / ".amlignore").write_text("data.bin\n")
    monkeypatch.chdir(work)
    return Experiment(workspace, "interactive")


def test_with_start_logging_completes_uploads_outputs_and_snapshots(exp):
    with exp.start_logging() as run:
        assert run.get_status() == "Running"
        assert os.path.isdir("outputs")  # tracked folders exist at once
        with open("outputs/model.txt", "w") as f:
            f.write("weights")
        run.log("acc", 0.5)
    assert run.get_status() == "Completed"
    assert run.get_metrics() == {"acc": 0.5}
    assert "outputs/model.txt" in run.get_file_names()
    snapshot = run.get_snapshot_id()
    assert snapshot and run.get_properties()["ContentSnapshotId"] == snapshot
    names = zipfile.ZipFile(run.restore_snapshot(path="restored")).namelist()
    assert sorted(names) == [".amlignore", "train.py"]  # data.bin is ignored
    assert os.path.isfile(os.path.join("restored", f"{snapshot}.zip"))
    from amlocal.errors import SnapshotException
    with pytest.raises(SnapshotException, match=f"already has one: {snapshot}"):
        run.take_snapshot(".")


def test_an_exception_fails_the_run_and_propagates(exp):
    with pytest.raises(ZeroDivisionError):
        with exp.start_logging(snapshot_directory=None) as run:
            run.log("before", 1)
            1 / 0
    assert run.get_status() == "Failed"
    details = run.get_details()
    assert "ZeroDivisionError" in details["error"]["message"]
    assert run.get_metrics() == {"before": 1}  # flushed before failing


def test_system_exit_zero_is_swallowed_and_sets_no_status(exp):
    with exp.start_logging(snapshot_directory=None) as run:
        raise SystemExit(0)
    assert run.get_status() == "Running"
    with pytest.raises(SystemExit):
        with exp.start_logging(snapshot_directory=None) as other:
            raise SystemExit(3)
    assert other.get_status() == "Failed"
    with run:  # `with run:` on an existing run
        pass
    assert run.get_status() == "Completed"


def test_outputs_argument_forms(exp, tmp_path):
    run = exp.start_logging(outputs=False, snapshot_directory=None)
    os.makedirs("outputs", exist_ok=True)
    open("outputs/ignored.txt", "w").write("x")
    run.complete()
    assert run.get_file_names() == []
    run = exp.start_logging(outputs=["models", "plots"], snapshot_directory="")
    assert os.path.isdir("models") and os.path.isdir("plots")
    open("models/m.pkl", "w").write("m")
    run.fail("bad luck")
    assert run.get_file_names() == ["models/m.pkl"]
    assert run.get_details()["error"]["message"] == "bad luck"
    assert run.get_snapshot_id() is None


def test_take_snapshot_of_a_file_and_its_limits(exp, tmp_path):
    from amlocal.errors import SnapshotException
    run = exp.start_logging(snapshot_directory=None)
    snapshot = run.take_snapshot("train.py")
    assert zipfile.ZipFile(run.restore_snapshot()).namelist() == ["train.py"]
    assert run.get_snapshot_id() == snapshot
    other = exp.start_logging(snapshot_directory=None)
    with pytest.raises(SnapshotException, match="no such file or folder"):
        other.take_snapshot("missing")
    many = tmp_path / "many"
    many.mkdir()
    for i in range(2001):
        (many / f"{i}.txt").write_text("")
    with pytest.raises(SnapshotException, match="2001 files, more than the limit of 2000"):
        other.take_snapshot(str(many))
    with pytest.raises(SnapshotException, match="Pass snapshot_directory=None"):
        exp.start_logging(snapshot_directory=str(many))
    with pytest.raises(SnapshotException, match="not a snapshot id"):
        other.restore_snapshot(snapshot_id="../../etc")
    with pytest.raises(SnapshotException, match="has no snapshot"):
        other.restore_snapshot()


def test_get_details_with_logs_holds_the_text(exp):
    run = exp.start_logging(snapshot_directory=None)
    os.makedirs("logs", exist_ok=True)
    open("logs/user_log.txt", "w").write("hello log\n")
    run.upload_file("logs/user_log.txt", "logs/user_log.txt")
    uploaded = run.upload_file("outputs/notes.txt", "train.py")
    assert uploaded.serialize()["artifactContentInformation"]["outputs/notes.txt"]["path"] == \
        "outputs/notes.txt"
    assert run.get_details()["logFiles"] == {"logs/user_log.txt": "logs/user_log.txt"}
    assert run.get_details_with_logs()["logFiles"] == {"logs/user_log.txt": "hello log\n"}


def test_create_children(exp):
    from amlocal.errors import UserErrorException
    parent = exp.start_logging(snapshot_directory=None)
    for kwargs, message in [({}, "Either count or tag_key and tag_values must be set"),
                            ({"tag_values": [1]}, "tag_key must not be null"),
                            ({"tag_key": "k"}, "tag_values must not be null"),
                            ({"count": 2, "tag_key": "k", "tag_values": [1]}, "count can not be set"),
                            ({"count": 101}, "can not create more than 100 runs"),
                            ({"tag_key": "k", "tag_values": list(range(101))}, "more than 100")]:
        with pytest.raises(UserErrorException, match=message):
            parent.create_children(**kwargs)
    children = parent.create_children(count=3)
    assert [c.get_status() for c in children] == ["NotStarted"] * 3
    assert [c.get_tags() for c in children] == [{"azureml.batch_child_number": str(i)} for i in range(3)]
    tagged = parent.create_children(tag_key="lr", tag_values=[0.1, 0.01])
    assert [c.get_tags()["lr"] for c in tagged] == ["0.1", "0.01"]
    assert len(list(parent.get_children())) == 5
    assert [c.id for c in parent.get_children(tags="lr")] == [c.id for c in tagged]
    assert [c.id for c in parent.get_children(tags={"lr": "0.01"})] == [tagged[1].id]
    with children[0] as child:
        child.log("i", 0)
    assert children[0].get_status() == "Completed"


def test_get_runs_tag_and_property_filters(exp):
    first = exp.start_logging(snapshot_directory=None)
    first.tag("quality", "great")
    first.tag("worth another look")
    first.add_properties({"author": "me"})
    second = exp.start_logging(snapshot_directory=None)
    second.tag("quality", "fine")

    def ids(**kwargs):
        return [r.id for r in exp.get_runs(**kwargs)]
    assert ids() == [second.id, first.id]  # newest first
    assert ids(tags="quality") == [second.id, first.id]
    assert ids(tags={"quality": "great"}) == [first.id]
    assert ids(tags={"quality": "great", "worth another look": None}) == [first.id]
    assert ids(tags=["quality", "worth another look"]) == [first.id]  # amlocal: a list = all exist
    assert ids(properties={"author": "me"}, tags="quality") == [first.id]
    assert ids(properties="author") == [first.id]
    with pytest.raises(ValueError, match="Unknown filter type for run tags: <class 'int'>"):
        exp.get_runs(tags=3)  # raised at the call, not when iterating
    import types
    assert isinstance(exp.get_runs(), types.GeneratorType)


def test_module_names_of_run_and_experiment(exp):
    from amlocal.core.experiment import Experiment, ViewType
    from amlocal.core.run import (POST_PROCESSING_STATES, RUNNING_STATES, Run, get_run)
    from amlocal.core.script_run import ScriptRun
    assert "Running" in RUNNING_STATES and "CancelRequested" not in RUNNING_STATES
    assert POST_PROCESSING_STATES == ["CancelRequested", "Finalizing"]
    run = exp.start_logging(snapshot_directory=None)
    assert type(get_run(exp, run.id)) is Run and get_run(exp, run.id, rehydrate=False).id == run.id
    assert issubclass(ScriptRun, Run)
    assert [e.name for e in Experiment.list(exp.workspace, view_type=ViewType.All)] == ["interactive"]
    assert Experiment.list(exp.workspace, view_type=ViewType.ArchivedOnly) == []


def test_offline_run_context_manager(capsys, monkeypatch):
    from amlocal.core import Run
    with Run.get_context() as run:
        run.log("x", 1)
        run.log_confusion_matrix("cm", {"schema_type": "confusion_matrix"})
    out = capsys.readouterr().out
    assert f"[START] Run {run.id} context" in out and f"[STOP] Run {run.id} context" in out
    assert "Attempted to log scalar metric x:\n1" in out
    assert "Attempted to log confusion matrix metric cm:" in out


def test_register_model_accepts_dot_slash_and_refuses_escapes(exp):
    from amlocal.errors import UserErrorException
    with exp.start_logging(snapshot_directory=None) as run:
        open("outputs/m.pkl", "w").write("model")
    model = run.register_model("m", model_path="./outputs/m.pkl")
    assert model.name == "m" and model.version == 1
    assert run.register_model("m", model_path="outputs//m.pkl").version == 2
    for bad, message in [("../outputs/m.pkl", "contains '..'"), ("/outputs/m.pkl", "is absolute"),
                         ("./", "names no artifact")]:
        with pytest.raises(UserErrorException, match=message):
            run.register_model("m", model_path=bad)


def test_amlcompute_status_and_wait(workspace, capsys):
    from amlocal.core.compute import AmlCompute, ComputeTarget
    from amlocal.core.compute.amlcompute import AmlComputeStatus
    from amlocal.errors import ComputeTargetException
    config = AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2", min_nodes=1,
                                                   max_nodes=4)
    assert config.vm_size == "STANDARD_D2_V2" and config["max_nodes"] == 4
    cluster = ComputeTarget.create(workspace, "cpu-cluster", config)
    assert isinstance(cluster, AmlCompute)
    assert cluster.wait_for_completion(show_output=True) is None
    out = capsys.readouterr().out
    assert 'Provisioning operation finished, operation "Succeeded"' in out
    assert "AmlCompute wait for completion finished" in out
    assert "Minimum number of nodes requested have been provisioned" in out

    status = cluster.get_status()
    assert isinstance(status, AmlComputeStatus)
    assert (status.allocation_state, status.current_node_count, status.provisioning_state) == \
        ("Steady", 1, "Succeeded")
    data = status.serialize()
    assert data["scaleSettings"] == {"minNodeCount": 1, "maxNodeCount": 4,
                                     "nodeIdleTimeBeforeScaleDown": "PT30M"}
    assert data["nodeStateCounts"]["idleNodeCount"] == 1 and data["vmSize"] == "STANDARD_D2_V2"
    assert data["creationTime"].startswith(status.creation_time.isoformat()[:10])
    assert cluster.serialize()["properties"]["status"] == data
    assert cluster.serialize()["properties"]["properties"]["vmSize"] == "STANDARD_D2_V2"
    with pytest.raises(ComputeTargetException, match="more than the max_nodes"):
        cluster.wait_for_completion(min_node_count=5)

    found = ComputeTarget(workspace, "cpu-cluster")
    assert found.wait_for_completion(show_output=False) is None  # AmlCompute: node wait only
    plain = ComputeTarget.create(workspace, "other", {"type": "Other"})
    assert plain.get_status() == "Succeeded"
    assert plain.serialize()["name"] == "other" and plain.serialize()["provisioning_state"] == "Succeeded"
    plain.wait_for_completion()
    with pytest.raises(ComputeTargetException, match="Long running operation information not known"):
        ComputeTarget(workspace, "other").wait_for_completion()
