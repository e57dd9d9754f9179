"""Settling the runs of a runner process that died (kill -9, out of memory, a machine restart).

A submitted run is executed by a detached runner process (see ``submit.start_runner``), which
records on the run its pid (``amlocal.runner_pid``), what identifies that process beyond its pid
(``amlocal.runner_start``: the boot id and the process's start time, so a pid reused after a
restart is not taken for the runner) and the temporary folder holding its run-service socket
(``amlocal.runner_socket_dir``). Any later read of the run (``amlocal run show``/``list``,
``get_status()``, ``wait_for_completion``, the next submit) calls :func:`settle_runs`: a run
whose runner is gone while the run is not terminal becomes Failed, with every non-terminal run
below it, and what the runner would have removed is removed: the containers labelled with the
run's id, its socket folder and the working folders of its steps (``AMLOCAL_HOME/work``).

Only the standard library at module top: this package is mounted into step containers.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from .._status import TERMINAL, RunStatus

RUNNER_PID = "amlocal.runner_pid"
RUNNER_START = "amlocal.runner_start"
RUNNER_SOCKET_DIR = "amlocal.runner_socket_dir"
LOST_MESSAGE = "the runner process of this run ended without finishing it"
_SOCKET_DIR_NAME = re.compile(r"^amlocal-[A-Za-z0-9_]+$")
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")   # what a run id may be (runs.id: 128)


# -- who the runner is ---------------------------------------------------------------------
def process_identity(pid: int) -> str | None:
    """What tells process ``pid`` from a later process given the same pid: this boot's id and
    the process's start time in clock ticks since boot (Linux ``/proc``). None where that is not
    available (the pid alone is then trusted)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        stat = Path(f"/proc/{int(pid)}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: fields follow its last ")"
    fields = stat[stat.rfind(")") + 2:].split()
    if len(fields) < 20:
        return None
    return f"{boot}:{fields[19]}"  # field 22, starttime


def runner_properties(pid: int) -> dict:
    """The properties that record process ``pid`` as a run's runner."""
    props = {RUNNER_PID: str(pid)}
    identity = process_identity(pid)
    if identity:
        props[RUNNER_START] = identity
    return props


def process_alive(pid: int) -> bool:
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child that has exited: reap it
            return False
    except ChildProcessError:
        pass  # not our child
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def runner_alive(properties: dict) -> bool:
    """Whether the runner recorded in a run's ``properties`` still lives (a process now holding
    its pid but started at another time, or in another boot, is not it)."""
    pid = properties.get(RUNNER_PID)
    try:
        pid = int(pid) if pid else 0
    except ValueError:
        return False
    if pid <= 0 or not process_alive(pid):
        return False
    recorded = properties.get(RUNNER_START)
    if not recorded:
        return True
    current = process_identity(pid)
    return current is None or current == recorded


def runner_lost(info) -> bool:
    """A runner started this run and died before finishing it."""
    props = info.properties or {}
    return bool(props.get(RUNNER_PID)) and info.status not in TERMINAL and not runner_alive(props)


# -- settling ------------------------------------------------------------------------------
def _runner_owner(store, info, seen: dict):
    """The run whose runner executes ``info``: itself, or the nearest ancestor with a runner."""
    hops = 0
    while info is not None and hops < 8:
        if (info.properties or {}).get(RUNNER_PID):
            return info
        if not info.parent_id:
            return None
        info = seen.get(info.parent_id) or store.get_run(info.parent_id)
        hops += 1
    return None


def settle_runs(store, infos) -> list[str]:
    """Settle every run among ``infos`` (RunInfo records) whose runner died: see the module
    docstring. Returns the ids of the runs settled now."""
    seen = {i.id: i for i in infos}
    owners: dict = {}
    for info in infos:
        if info.status in TERMINAL:
            continue
        owner = _runner_owner(store, info, seen)
        if owner is not None:
            owners[owner.id] = owner
    return [run_id for run_id, owner in owners.items() if settle(store, owner)]


def settle(store, info) -> bool:
    """If ``info``'s runner died before finishing it, mark it and its non-terminal descendants
    Failed and remove what the runner left; True when that was done now."""
    from ..store.entities import utcnow
    if not runner_lost(info):
        return False
    info = store.get_run(info.id)  # the runner may have ended the run just before it exited
    if info is None or info.status in TERMINAL:
        return False
    descendants = _descendants(store, info.id)
    notes = cleanup(info, [d.id for d in descendants] + [info.id])
    pid = (info.properties or {}).get(RUNNER_PID)
    message = (f"{LOST_MESSAGE} (pid {pid}: it was killed, ran out of memory, or the machine "
               f"restarted); see runner-logs/{info.id}.log under AMLOCAL_HOME")
    if notes:
        message += ". " + "; ".join(notes)
    ended = utcnow()
    for child in descendants:
        if child.status not in TERMINAL:
            store.update_run(child.id, status=RunStatus.FAILED.value, ended_at=ended,
                             error={"message": message})
    store.update_run(info.id, status=RunStatus.FAILED.value, ended_at=ended, error={"message": message})
    return True


def _descendants(store, run_id: str) -> list:
    found, queue = [], [run_id]
    while queue and len(found) < 10000:
        for child in store.list_runs(parent_id=queue.pop()):
            found.append(child)
            queue.append(child.id)
    return found


def cleanup(info, run_ids: list[str]) -> list[str]:
    """Remove the containers, socket folder and work folders a dead runner of ``info`` left.
    Returns notes on what could not be removed (added to the run's error)."""
    from .. import _settings
    notes = []
    from amlocal.compute import Capability, get_backend

    from .graph import GraphFormatError, RunRequest
    try:
        kinds = {n.compute.kind for n in RunRequest.from_dict(info.definition or {}).graph.steps}
    except (GraphFormatError, ValueError):
        kinds = {"docker"}   # a damaged record: look for its containers all the same
    if any(Capability.CONTAINER in get_backend(kind).capabilities for kind in kinds):
        from amlocal.compute.docker import remove_labelled

        from ..errors import ComputeError, DockerUnavailableError
        try:
            remove_labelled({"amlocal.pipeline_run_id": info.id})
        except (ComputeError, DockerUnavailableError) as exc:
            notes.append(f"its containers could not be removed ({exc}); remove them with "
                         f"`docker rm -f $(docker ps -aq --filter label=amlocal.pipeline_run_id="
                         f"{info.id})`")
    sockets = (info.properties or {}).get(RUNNER_SOCKET_DIR)
    if sockets:
        folder = Path(sockets)
        # only a runner's own socket folder: amlocal-* directly in the temporary folder
        if (_SOCKET_DIR_NAME.match(folder.name) and folder.parent == Path(tempfile.gettempdir())
                and folder.is_dir() and not folder.is_symlink()):
            shutil.rmtree(folder, ignore_errors=True)
    work = _settings.current().home / "work"
    for run_id in run_ids:
        if not RUN_ID.match(run_id):
            continue  # not a name the runner gives a folder
        for name in (run_id, f"{run_id}-inputs", f"{run_id}-outputs"):
            folder = work / name
            if folder.is_dir() and not folder.is_symlink():
                shutil.rmtree(folder, ignore_errors=True)
    return notes
