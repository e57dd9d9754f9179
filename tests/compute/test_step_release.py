"""``wait(release=False)`` keeps an exited step's container until ``release()``: the runner
records the step's end first and removes the container off the run's path (issue 11)."""
from __future__ import annotations

import uuid

from amlocal.compute import StepSpec, get_backend


def test_a_container_waited_without_release_is_removed_by_release(six_env, amlocal_home,
                                                                   docker_engine, step_dirs):
    wd, _ = step_dirs
    labels = {"amlocal.run_id": f"test-{uuid.uuid4().hex[:12]}"}
    step = StepSpec(run_id=labels["amlocal.run_id"], step_name="exit3",
                    command=("python", "-c", "raise SystemExit(3)"), working_dir=str(wd),
                    labels=labels)
    handle = get_backend("docker").submit(step, six_env)
    assert list(handle.lines()) == []
    assert handle.wait(release=False) == 3
    found = docker_engine.containers.list(
        all=True, filters={"label": f"amlocal.run_id={labels['amlocal.run_id']}"})
    assert len(found) == 1 and found[0].status == "exited"
    assert handle.wait(release=False) == 3          # asked again: the same status, no new call
    handle.release()
    handle.release()                                 # idempotent
    assert docker_engine.containers.list(
        all=True, filters={"label": f"amlocal.run_id={labels['amlocal.run_id']}"}) == []


def test_the_local_backend_keeps_its_root_until_release(amlocal_home, step_dirs):
    from amlocal.compute import EnvironmentSpec
    wd, _ = step_dirs
    backend = get_backend("local")
    env = backend.prepare(EnvironmentSpec(name="host-python", user_managed=True), log=lambda _: None)
    step = StepSpec(run_id=f"test-{uuid.uuid4().hex[:12]}", step_name="ok",
                    command=("python", "-c", "print('hi')"), working_dir=str(wd))
    handle = backend.submit(step, env)
    assert list(handle.lines()) == ["hi"]
    assert handle.wait(release=False) == 0
    from pathlib import Path
    root = Path(handle._root)
    assert root.exists()
    handle.release()
    assert not root.exists()
