"""Snapshots are verified and bounded: a snapshot modified under AMLOCAL_HOME fails the
submission (or the step, before its container starts) with an error saying so; stored files are
read-only; a huge (sparse) file fails on stat, before it is read; Azure's 2000-file limit."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

STD_LOG = "logs/user_logs/std_log.txt"


def _src(folder: Path, **scripts) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in scripts.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(text))
    return str(folder)


def _tamper(snapshot: Path, name: str, text: str) -> None:
    target = snapshot / name
    os.chmod(target, 0o644)  # the stored copy is read-only: someone forces it
    target.write_text(text)


@pytest.mark.usefixtures("docker_engine")
def test_a_modified_published_snapshot_fails_the_submission(workspace, tmp_path):
    from amlocal.errors import UserErrorException
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep
    src = _src(tmp_path / "src", train="print('the published code')\n")
    pipeline = Pipeline(workspace, [PythonScriptStep("train.py", name="train", source_directory=src)])
    published = pipeline.publish("integrity")
    digest = published._info.definition["steps"][0]["snapshot"]
    snapshot = Path(os.environ["AMLOCAL_HOME"]) / "snapshots" / digest
    # stored files are read-only
    assert stat.S_IMODE((snapshot / "train.py").stat().st_mode) & 0o222 == 0
    runs_before = len(workspace._store.list_runs(workspace._id))

    _tamper(snapshot, "train.py", "print('planted code')\n")
    with pytest.raises(UserErrorException, match=f"snapshot {digest} under AMLOCAL_HOME/snapshots "
                                                 "was modified"):
        published.submit(workspace, "integrity")
    assert len(workspace._store.list_runs(workspace._id)) == runs_before  # nothing recorded

    # publishing again from the source stores the true content afresh, and it runs
    again = pipeline.publish("integrity-again")
    assert again._info.definition["steps"][0]["snapshot"] == digest
    assert (snapshot / "train.py").read_text() == "print('the published code')\n"
    run = again.submit(workspace, "integrity")
    assert run.wait_for_completion(show_output=False) == "Finished"
    step = workspace._store.list_runs(parent_id=run.id)[0]
    assert "the published code" in workspace._store.read_artifact(step.id, STD_LOG).decode()


@pytest.mark.usefixtures("docker_engine")
def test_a_snapshot_modified_during_the_run_fails_its_step_before_the_container(workspace,
                                                                                 tmp_path):
    from amlocal.pipeline.core import Pipeline, PipelineData
    from amlocal.pipeline.steps import PythonScriptStep
    first_src = _src(tmp_path / "first", first="""
        import os, sys, time
        os.makedirs(sys.argv[1], exist_ok=True)
        time.sleep(4)
    """)
    second_src = _src(tmp_path / "second", second="print('SECOND RAN')\n")
    data = PipelineData("data")
    first = PythonScriptStep("first.py", name="first", source_directory=first_src,
                             arguments=[data], outputs=[data])
    second = PythonScriptStep("second.py", name="second", source_directory=second_src,
                              arguments=[data], inputs=[data])
    run = Pipeline(workspace, [first, second]).submit("integrity-late")
    node = next(n for n in run._refresh().definition["graph"]["steps"] if n["name"] == "second")
    snapshot = Path(os.environ["AMLOCAL_HOME"]) / "snapshots" / node["snapshot"]
    _tamper(snapshot, "second.py", "print('PLANTED')\n")
    assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"
    steps = {s.name: s for s in workspace._store.list_runs(parent_id=run.id)}
    assert steps["first"].status == "Finished"
    assert steps["second"].status == "Failed"
    assert "under AMLOCAL_HOME/snapshots was modified" in steps["second"].error["message"]
    assert "amlocal.image" in steps["second"].properties  # it got as far as its environment...
    log = workspace._store.read_artifact(steps["second"].id, STD_LOG).decode()
    assert "PLANTED" not in log and "SECOND RAN" not in log  # ...but no container ran


def test_a_huge_sparse_file_fails_on_stat_before_it_is_read(workspace, tmp_path):
    """A 2 GB sparse file: refused at once, naming the file and .amlignore, without reading it
    (measured in a fresh process: its peak memory stays small)."""
    src = Path(_src(tmp_path / "src", train="print('hi')\n"))
    with open(src / "big.bin", "wb") as f:
        f.truncate(2 * 1024 ** 3)
    probe = textwrap.dedent(f"""
        import sys, time
        from amlocal.errors import UserErrorException
        from amlocal._engine.snapshot import take_snapshot
        start = time.monotonic()
        try:
            take_snapshot({str(src)!r}, {str(tmp_path / "snaps")!r})
        except UserErrorException as exc:
            print("ERROR", exc)
        print("SECONDS", time.monotonic() - start)
        # VmHWM is this process's own peak (ru_maxrss also counts the parent's before exec)
        peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status")
                       if line.startswith("VmHWM:"))
        print("PEAK_MB", peak_kb // 1024)
    """)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, env=os.environ).stdout
    assert "ERROR" in out and "'big.bin' (2048 MB)" in out and ".amlignore" in out, out
    assert "more than the snapshot limit of 300 MB" in out
    assert float(out.split("SECONDS")[1].split()[0]) < 5
    assert int(out.split("PEAK_MB")[1].split()[0]) < 250, out
    assert not (tmp_path / "snaps").exists() or not any((tmp_path / "snaps").iterdir())

    # the same through the public API: submit fails before anything is recorded
    from amlocal.errors import UserErrorException
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep
    pipeline = Pipeline(workspace, [PythonScriptStep("train.py", source_directory=str(src))])
    with pytest.raises(UserErrorException, match="big.bin"):
        pipeline.submit("huge")
    assert workspace._store.list_runs(workspace._id) == []
    # listed in .amlignore, it is left out and the snapshot is taken
    (src / ".amlignore").write_text("big.bin\n")
    from amlocal._engine.snapshot import take_snapshot
    digest = take_snapshot(src, tmp_path / "snaps")
    assert not (tmp_path / "snaps" / digest / "big.bin").exists()


def test_azure_s_2000_file_limit(home, tmp_path, monkeypatch):
    from amlocal.errors import UserErrorException
    from amlocal._engine.snapshot import take_snapshot
    src = tmp_path / "many"
    src.mkdir()
    for i in range(2001):
        (src / f"f{i}.txt").write_text(str(i))
    with pytest.raises(UserErrorException, match="holds 2001 files, more than the snapshot limit "
                                                 "of 2000.*AML_SNAPSHOT_NO_FILE_LIMIT"):
        take_snapshot(src, tmp_path / "snaps")
    monkeypatch.setenv("AML_SNAPSHOT_NO_FILE_LIMIT", "1")  # Azure's switch lifts it
    digest = take_snapshot(src, tmp_path / "snaps")
    assert len(os.listdir(tmp_path / "snaps" / digest)) == 2001


def test_a_pipe_in_the_source_folder_is_left_out_with_a_warning(home, tmp_path):
    """Reading a named pipe would block for ever: it is left out, and the warning names it."""
    from amlocal._engine.snapshot import take_snapshot
    src = Path(_src(tmp_path / "src", train="print('hi')\n"))
    os.mkfifo(src / "feed")
    with pytest.warns(UserWarning, match="'feed' is not a regular file"):
        digest = take_snapshot(src, tmp_path / "snaps")
    assert sorted(os.listdir(tmp_path / "snaps" / digest)) == ["train.py"]
