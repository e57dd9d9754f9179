"""A hostile step in REAL containers (one sandboxed, one not) attacks the run service through the
public API (``Run.get_context()``, ``run.parent``, ``child_run``, ``upload_file``,
``Model.register``, ``Model(...).download``, ``Datastore.get``) and the raw wire protocol. The
tests assert what happened on the host: every attack was refused with a clear message, no file
appeared outside the home, a canary file's content and the datastore's account key are in no
log, artifact or output, and the step's legitimate work still reached the store."""
from __future__ import annotations

import hashlib
import json
import textwrap
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("docker_engine")

ATTACKER = r'''
import dataclasses, http.client, json, os, socket, sys, uuid
from azureml.core import Datastore, Model, Run
from amlocal.store.entities import ModelInfo, RunInfo

canary, foreign_ws, foreign_run, outsider_run, victim_key = sys.argv[1:6]
run = Run.get_context()
ws = run.experiment.workspace
store = ws._store
report = {}


def attempt(name, fn):
    try:
        report[name] = ["ok", repr(fn())[:400]]
    except Exception as exc:  # every refusal is recorded with its message
        report[name] = [type(exc).__name__, str(exc)[:400]]


def raw(method, meta):
    """One request on the wire, without the client."""
    path = os.environ["AMLOCAL_RUN_SERVICE"][len("unix://"):]
    body = json.dumps(meta).encode()
    conn = http.client.HTTPConnection("localhost")
    conn.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.sock.connect(path)
    conn.request("POST", f"/v1/{method}", body=body, headers={
        "Authorization": "Bearer " + os.environ["AZUREML_RUN_TOKEN"],
        "X-Amlocal-Meta-Length": str(len(body)), "Content-Length": str(len(body))})
    response = conn.getresponse()
    return response.status, response.read().decode("utf-8", "replace")[:400]


escape = "../" * 16 + canary.lstrip("/")
planted = os.path.join(os.path.dirname(canary), "planted-" + run.id)
# other workspaces, other trees
attempt("other_ws_run", lambda: Run.get(ws, foreign_run))
attempt("other_ws_list_runs", lambda: store.list_runs(workspace_id=foreign_ws))
attempt("other_ws_metrics", lambda: store.get_metric_records(foreign_run))
attempt("outsider_files", lambda: Run.get(ws, outsider_run).get_file_names())
attempt("outsider_download", lambda: Run.get(ws, outsider_run).download_file(
    "outputs/secret.txt", "stolen.txt"))
# the parent: metrics, tags and properties only
attempt("parent_upload", lambda: run.parent.upload_file("outputs/x.txt", __file__))
attempt("parent_remove_tags", lambda: run.parent.remove_tags(["a"]))
attempt("parent_status", lambda: store.update_run(run.parent.id, status="Canceled"))
attempt("parent_reserved", lambda: run.parent.add_properties({"amlocal.requested_status": "Failed"}))
# paths in ids and names
attempt("child_dotdot", lambda: run.child_run(run_id="../../../../" + planted.lstrip("/")))
attempt("create_run_dotdot", lambda: store.create_run(RunInfo(
    id="../" * 8 + "tmp", workspace_id=ws._id, experiment=run.experiment.name, kind="script",
    parent_id=run.id)))
attempt("upload_dotdot", lambda: run.upload_file("../" * 16 + planted.lstrip("/"), __file__))
attempt("read_dotdot", lambda: store.read_artifact(run.id, escape))
attempt("model_dotdot", lambda: store.register_model(ModelInfo(
    workspace_id=ws._id, name="../../../../" + planted.lstrip("/"), version=0, path=""), __file__))
attempt("model_register_sdk", lambda: Model.register(ws, __file__, "../../evil"))
# a forged model: its path must not be what is fetched


def forged_download():
    model = Model(ws, "victim_model")
    model._info = dataclasses.replace(model._info, path=canary)
    got = store.fetch_model(model._info, "forged")
    return open(got).read()


attempt("model_forged", forged_download)
# datastore credentials
attempt("datastore", lambda: (repr(Datastore.get(ws, "azblob")),
                              Datastore.get(ws, "azblob")._storage_options,
                              Datastore.get(ws, "azblob").url))
print("DATASTORE", json.dumps(Datastore.get(ws, "azblob")._storage_options))
# plant a reusable run
attempt("plant_finished", lambda: store.create_run(RunInfo(
    id=str(uuid.uuid4()), workspace_id=ws._id, experiment=run.experiment.name, kind="step",
    parent_id=run.id, status="Finished", reuse_key=victim_key,
    definition={"outputs": {"o": {"local": os.path.dirname(canary)}}})))
child = run.child_run("legit-child")
attempt("child_reuse_key", lambda: store.update_run(child.id, status="Finished",
                                                    reuse_key=victim_key))
# the raw protocol
report["raw_get_run"] = raw("get_run", {"run_id": "../../../../etc/shadow"})
report["raw_read"] = raw("read_artifact", {"run_id": run.id, "name": escape})
report["raw_fetch_model"] = raw("fetch_model", {"info": {
    "__entity__": "ModelInfo", "workspace_id": ws._id, "name": "victim_model", "version": 1,
    "path": canary}})
report["raw_list_runs"] = raw("list_runs", {"workspace_id": foreign_ws})
report["raw_reuse"] = raw("find_reusable_run", {"workspace_id": ws._id, "reuse_key": victim_key})
# what a step may do still works
run.log("acc", 0.9)
run.parent.log("from_" + os.environ["STEP_NAME"], 1)
child.log("c", 1)
child.complete()
Model.register(ws, __file__, "attacker_" + os.environ["STEP_NAME"])
report["uid"] = os.getuid()
print("REPORT " + json.dumps(report))
'''

REFUSED = {
    "other_ws_run": "own workspace only",
    "other_ws_list_runs": "only in its own workspace",
    "other_ws_metrics": "own workspace only",
    "outsider_files": "files of the runs of its own pipeline run",
    "outsider_download": "files of the runs of its own pipeline run",
    "parent_upload": "may not call put_artifact on run",
    "parent_remove_tags": "may not call remove_tags on run",
    "parent_status": "may not call update_run on run",
    "parent_reserved": "amlocal's own",
    "child_dotdot": "is not valid: a run id",
    "create_run_dotdot": "is not valid: a run id",
    "upload_dotdot": "must be a relative path inside the run",
    "read_dotdot": "must be a relative path inside the run",
    "model_dotdot": "model name",
    "model_register_sdk": "",   # the SDK refuses the name before the service sees it
    "plant_finished": "",
    "child_reuse_key": "may set only",
}
RAW_REFUSED = {"raw_get_run": 400, "raw_read": 400, "raw_fetch_model": 400,
               "raw_list_runs": 403, "raw_reuse": 403}


def _report(step_run) -> dict:
    log = step_run.get_job_log()
    line = next(l for l in log.splitlines() if l.startswith("REPORT "))
    return json.loads(line[len("REPORT "):])


def _files(root: Path) -> dict:
    return {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file() and not p.is_symlink()}


def test_a_hostile_step_reaches_nothing_beyond_the_step_api(workspace, home, tmp_path, azurite):
    from amlocal.core import Datastore, Experiment, Model, RunConfiguration, Workspace
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep

    canary_text = f"CANARY-{uuid.uuid4().hex}"
    canary = tmp_path / "outside" / "canary.txt"
    canary.parent.mkdir()
    canary.write_text(canary_text)
    Datastore.register_azure_blob_container(
        workspace, "azblob", f"sec{uuid.uuid4().hex[:10]}", azurite.account,
        account_key=azurite.key, endpoint=azurite.endpoint, create_if_not_exists=True)
    other_ws = Workspace("11111111-1111-1111-1111-111111111111", "other-rg", "otherws")
    foreign = Experiment(other_ws, "theirs").start_logging(snapshot_directory=None)
    foreign.log("their_secret", 42)
    foreign.complete()
    outsider = Experiment(workspace, "outside").start_logging(snapshot_directory=None)
    secret = tmp_path / "secret.txt"
    secret.write_text(canary_text)
    outsider.upload_file("outputs/secret.txt", str(secret))
    outsider.complete()
    model_file = tmp_path / "weights.txt"
    model_file.write_text("real weights")
    Model.register(workspace, str(model_file), "victim_model")
    victim_key = hashlib.sha256(b"a victim step").hexdigest()

    src = tmp_path / "src"
    src.mkdir()
    (src / "attacker.py").write_text(textwrap.dedent(ATTACKER))
    boxed = RunConfiguration()
    boxed.docker.sandbox = True
    args = [str(canary), other_ws._id, foreign.id, outsider.id, victim_key]
    steps = []
    for name, config in (("plain", RunConfiguration()), ("boxed", boxed)):
        config.environment_variables = {"STEP_NAME": name}
        steps.append(PythonScriptStep("attacker.py", name=name, source_directory=str(src),
                                      arguments=args, runconfig=config, allow_reuse=False))
    before = _files(tmp_path)
    run = Pipeline(workspace, steps).submit("attacked")
    assert run.wait_for_completion(show_output=False) == "Finished"

    for step_run in run.get_steps():
        report = _report(step_run)
        print(f"\n{step_run.name}: " + json.dumps(report, indent=1))
        for name, expected in REFUSED.items():
            kind, message = report[name]
            assert kind != "ok", (step_run.name, name, message)
            assert expected in message, (step_run.name, name, message)
        for name, status in RAW_REFUSED.items():
            assert report[name][0] == status, (step_run.name, name, report[name])
        assert (report["uid"] == 65534) == (step_run.name == "boxed")  # the sandbox's user
        # a forged model path fetches the registered model's own files
        assert report["model_forged"] == ["ok", repr("real weights")]
        # the datastore answers without its key
        assert report["datastore"][0] == "ok" and "AccountKey=***" in report["datastore"][1]
        # the legitimate work reached the store
        assert step_run.get_metrics() == {"acc": 0.9}
        children = list(step_run.get_children())
        assert [(c.name, c.get_status()) for c in children] == [("legit-child", "Completed")]
        assert children[0].get_metrics() == {"c": 1}
    assert {n: run.get_metrics()[n] for n in ("from_plain", "from_boxed")} == {
        "from_plain": 1, "from_boxed": 1}
    assert {m.name for m in Model.list(workspace)} >= {"attacker_plain", "attacker_boxed"}
    # the parent pipeline run kept its status and properties
    assert "amlocal.requested_status" not in run.get_properties()

    # host-side: nothing written outside the home, no secret in any log or artifact
    assert {p for p in _files(tmp_path) if not p.is_relative_to(home)} == \
        {p for p in before if not p.is_relative_to(home)}
    assert not list(canary.parent.glob("planted-*"))
    for path in home.rglob("*"):
        if path.is_file() and not path.name.startswith("amlocal.db"):
            data = path.read_bytes()
            assert canary_text.encode() not in data or path.is_relative_to(
                home / "artifacts" / outsider.id), path
            assert azurite.key.encode() not in data, path
    logs = run.get_job_log() if hasattr(run, "get_job_log") else ""
    for step_run in run.get_steps():
        logs += step_run.get_job_log()
    assert canary_text not in logs and azurite.key not in logs
    # no run anywhere carries the victim's reuse key
    assert [r.id for r in workspace._store.list_runs(workspace._id)
            if r.reuse_key == victim_key] == []


def test_a_run_the_runner_did_not_record_is_never_reused(workspace, home, tmp_path):
    """A Finished step run with the right reuse key but without the runner's mark (as a run
    planted by a step would be), whose outputs point at a host folder: the next submission of
    that pipeline runs the step itself, and the next step reads the fresh output."""
    from amlocal.pipeline.core import Pipeline, PipelineData
    from amlocal._engine.reuse import RECORDED_PROPERTY
    from amlocal.pipeline.steps import PythonScriptStep

    canary = tmp_path / "outside"
    canary.mkdir()
    (canary / "out.txt").write_text("CANARY from the host")
    src = tmp_path / "src"
    src.mkdir()
    (src / "make.py").write_text(textwrap.dedent("""
        import os, sys
        os.makedirs(sys.argv[1], exist_ok=True)
        open(os.path.join(sys.argv[1], "out.txt"), "w").write("made by the step")
    """))
    (src / "read.py").write_text(textwrap.dedent("""
        import os, sys
        print("READ", open(os.path.join(sys.argv[1], "out.txt")).read())
    """))

    def submit():
        out = PipelineData("made")
        make = PythonScriptStep("make.py", name="make", source_directory=str(src),
                                arguments=[out], outputs=[out])
        read = PythonScriptStep("read.py", name="read", source_directory=str(src),
                                arguments=[out], inputs=[out], allow_reuse=False)
        run = Pipeline(workspace, [make, read]).submit("reuse-guard")
        assert run.wait_for_completion(show_output=False) == "Finished"
        return run

    first = submit()
    made = first.find_step_run("make")[0]
    store = workspace._store
    info = store.get_run(made.id)
    assert info.properties[RECORDED_PROPERTY] == "true"
    # turn it into what a planted run looks like: no runner mark, outputs at a host folder
    store._mutate_json(made.id, "properties",
                       lambda cur: {k: v for k, v in cur.items() if k != RECORDED_PROPERTY})
    outputs = {n: {**loc, "local": str(canary)} for n, loc in info.definition["outputs"].items()}
    store.update_run(made.id, definition={**info.definition, "outputs": outputs})

    second = submit()
    make2 = second.find_step_run("make")[0]
    assert store.get_run(make2.id).reused_from is None
    assert store.get_run(make2.id).definition["reuse"]["decision"] == "ran"
    log = second.find_step_run("read")[0].get_job_log()
    assert "READ made by the step" in log and "CANARY" not in log
