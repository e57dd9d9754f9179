"""Run statuses are one enum whose values are Azure's strings: what users see stays the plain
string (``get_status() == "Completed"``, JSON, printing), the store keeps only real statuses,
and the step API accepts only the statuses a step may set."""
from __future__ import annotations

import http.client
import json

import pytest

from amlocal._status import (PIPELINE_RUNNING, POST_PROCESSING, RUNNING, TERMINAL, WAITING,
                             RunStatus)

# Azure's run statuses (azureml._restclient.constants.RunStatus), plus the pipelines' Finished
# and the Unknown of azureml.pipeline.core.run.RUNNING_STATES
AZURE_STATUSES = {"NotStarted", "Queued", "Preparing", "Provisioning", "Starting", "Running",
                  "Finalizing", "CancelRequested", "Completed", "Failed", "Canceled",
                  "NotResponding", "Unapproved", "Pausing", "Paused"}
PIPELINE_STATUSES = {"Finished", "Unknown"}


def test_values_are_azures_strings_and_show_as_them():
    assert {s.value for s in RunStatus} == AZURE_STATUSES | PIPELINE_STATUSES
    for status in RunStatus:
        assert isinstance(status, str) and status == status.value
        assert str(status) == f"{status}" == f"{status:s}" == status.value
        assert json.dumps(status) == json.dumps(status.value)
        assert json.dumps({"status": status}) == '{"status": "%s"}' % status.value
        assert RunStatus.of(status.value) is status and RunStatus.of(status) is status
    assert RunStatus.COMPLETED == "Completed" and RunStatus.FINISHED == "Finished"
    # plain strings (what the store reads back) are found in the sets and maps keyed by members
    assert "Completed" in TERMINAL and "Running" not in TERMINAL
    assert {RunStatus.FAILED: "red"}.get("Failed") == "red"


def test_groups():
    assert TERMINAL == {"Completed", "Finished", "Failed", "Canceled"}
    assert all(s.terminal for s in TERMINAL)
    assert not any(s.terminal for s in RunStatus if s not in TERMINAL)
    assert {s for s in RunStatus if s.succeeded} == {"Completed", "Finished"}
    assert WAITING == {"NotStarted", "Queued"}
    assert not (set(RUNNING) | set(POST_PROCESSING) | set(PIPELINE_RUNNING)) & TERMINAL

    # the public names azureml has: lists of plain strings, as Azure's are
    from amlocal.core.run import POST_PROCESSING_STATES, RUNNING_STATES
    from amlocal.pipeline.core.run import RUNNING_STATES as PIPELINE_RUNNING_STATES
    assert PIPELINE_RUNNING_STATES == ["NotStarted", "Running", "Queued", "Unknown"]
    assert RUNNING_STATES == ["NotStarted", "Queued", "Preparing", "Provisioning", "Starting",
                              "Running", "Unapproved", "NotResponding", "Pausing", "Paused"]
    assert POST_PROCESSING_STATES == ["CancelRequested", "Finalizing"]
    for states in (RUNNING_STATES, POST_PROCESSING_STATES, PIPELINE_RUNNING_STATES):
        assert all(type(s) is str for s in states)
        assert repr(states) == repr([str(s) for s in states])


@pytest.mark.parametrize("bad", ["completed", "Succeeded", "", None, 3, ["Completed"]])
def test_anything_else_is_refused_naming_the_statuses(bad):
    with pytest.raises(ValueError, match="is not a run status; a run status is one of "
                                         "NotStarted, Queued"):
        RunStatus.of(bad)


def test_a_status_round_trips_through_the_store_as_the_plain_string(workspace):
    import sqlalchemy as sa

    from amlocal.core import Experiment
    from amlocal.core.run import Run, get_run

    run = Experiment(workspace, "statuses").start_logging(snapshot_directory=None)
    assert run.get_status() == "Running" and type(run.get_status()) is str
    assert type(run.get_details()["status"]) is str
    run.complete()

    again = get_run(run.experiment, run.id)
    status = again.get_status()
    assert status == "Completed" == RunStatus.COMPLETED and type(status) is str
    details = again.get_details()
    assert json.loads(json.dumps(details, default=str))["status"] == "Completed"
    assert "'status': 'Completed'" in str(details)  # printing the details shows Azure's string
    assert repr(again).endswith("Status: Completed)")
    assert [r.id for r in Run.list(again.experiment, status="Completed")] == [run.id]
    assert [r.id for r in Run.list(again.experiment, status=RunStatus.COMPLETED)] == [run.id]

    store = workspace._store
    with sa.create_engine(store.url).connect() as conn:
        stored = conn.execute(sa.text("select status from runs where id = :id"),
                              {"id": run.id}).scalar_one()
    assert stored == "Completed" and type(stored) is str

    # a RunStatus member written is stored as the string; a non-status is refused, not written
    assert store.update_run(run.id, status=RunStatus.FAILED).status == "Failed"
    assert type(store.get_run(run.id).status) is str
    with pytest.raises(ValueError, match="'Done' is not a run status"):
        store.update_run(run.id, status="Done")
    assert store.get_run(run.id).status == "Failed"


def test_run_info_keeps_the_plain_string_across_the_wire():
    from amlocal.store.entities import RunInfo, from_wire, to_wire
    info = RunInfo(id="r", workspace_id="w", experiment="e", kind="script",
                   status=RunStatus.RUNNING)
    assert type(info.status) is str and info.status == "Running"
    assert "status='Running'" in repr(info)
    wire = json.loads(json.dumps(to_wire(info)))
    assert wire["status"] == "Running" and from_wire(wire) == info
    assert RunInfo(id="r", workspace_id="w", experiment="e", kind="step").status == "NotStarted"
    with pytest.raises(ValueError, match="'Done' is not a run status"):
        RunInfo(id="r", workspace_id="w", experiment="e", kind="script", status="Done")


def _raw_post(service, method: str, token: str, meta: dict) -> tuple[int, dict]:
    body = json.dumps(meta).encode()
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=30)
    conn.request("POST", f"/v1/{method}", body=body, headers={
        "Authorization": f"Bearer {token}", "X-Amlocal-Meta-Length": str(len(body)),
        "Content-Length": str(len(body))})
    response = conn.getresponse()
    payload = json.loads(response.read())
    conn.close()
    return response.status, payload


def test_the_step_api_accepts_only_valid_statuses(home):
    from amlocal.errors import UserErrorException
    from amlocal.runservice import RemoteStore, RunService
    from amlocal.store import open_store
    from amlocal.store.entities import RunInfo, WorkspaceInfo

    store = open_store()
    store.create_workspace(WorkspaceInfo(id="ws", name="ws", subscription_id="s",
                                         resource_group="g"))
    store.create_run(RunInfo(id="pipe", workspace_id="ws", experiment="e", kind="pipeline"))
    store.create_run(RunInfo(id="step", workspace_id="ws", experiment="e", kind="step",
                             parent_id="pipe"))
    with RunService(store, host="127.0.0.1") as service:
        token = service.grant("step")
        remote = RemoteStore(service.url, token)
        kid = remote.create_run(RunInfo(id="kid", workspace_id="ws", experiment="e",
                                        kind="script", parent_id="step",
                                        status=RunStatus.RUNNING))
        assert kid.status == "Running" and type(kid.status) is str
        assert remote.update_run("kid", status=RunStatus.COMPLETED).status == "Completed"
        assert type(store.get_run("kid").status) is str

        # not a status, not a string, or one a step may not set: 400, naming the allowed ones
        for bad in ("Done", 7, ["Running"], "Finished"):
            code, payload = _raw_post(service, "update_run", token,
                                      {"run_id": "kid", "status": bad})
            assert code == 400, (bad, payload)
            message = payload["error"]["message"]
            assert "NotStarted, Starting, Queued, Preparing, Running" in message, message
            assert "Canceled" in message and repr(bad) in message
        with pytest.raises(UserErrorException, match="'Done' is not a run status"):
            remote.update_run("kid", status="Done")
        assert store.get_run("kid").status == "Completed"

        # a created run with a bogus status is refused before anything is stored
        bogus = {"__entity__": "RunInfo", "id": "kid2", "workspace_id": "ws", "experiment": "e",
                 "kind": "script", "parent_id": "step", "status": "Done"}
        code, payload = _raw_post(service, "create_run", token, {"info": bogus})
        assert code == 400 and "'Done' is not a run status" in payload["error"]["message"]
        code, payload = _raw_post(service, "create_run", token,
                                  {"info": {**bogus, "status": "Completed"}})
        assert code == 403 and "starts NotStarted" in payload["error"]["message"]
        assert store.get_run("kid2") is None
