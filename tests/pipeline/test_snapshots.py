"""Snapshots of a source directory that is being written: the amlocal home inside it, and files
that vanish while it is walked, never break submit/publish."""
from __future__ import annotations

import threading
import zipfile


def test_home_inside_the_source_directory_is_left_out_and_the_pipeline_runs(
        docker_engine, workspace, home, tmp_path):
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep
    from amlocal._engine.snapshot import list_files

    src = tmp_path  # the `home` fixture's AMLOCAL_HOME is tmp_path/amlocal-home: inside src
    assert home.parent == src and (home / "amlocal.db").is_file()
    (src / "step.py").write_text("import os\nprint('FILES', sorted(os.listdir('.')))\n")
    other_home = src / "old-home"  # another amlocal home (a database in it) is left out too
    other_home.mkdir()
    (other_home / "amlocal.db").write_bytes(b"")
    assert list_files(src) == ["step.py"]

    pipeline = Pipeline(workspace, [PythonScriptStep("step.py", name="step", source_directory=str(src))])
    published = pipeline.publish("home-inside")
    run = published.submit(workspace, "home-inside")
    assert run.wait_for_completion(show_output=False) == "Finished"
    step = next(run.get_steps())
    assert "FILES ['logs', 'outputs', 'step.py']" in step.get_job_log()
    names = zipfile.ZipFile(step.restore_snapshot(path=str(tmp_path / "zips"))).namelist()
    assert names == ["step.py"]


def test_files_vanishing_during_the_walk_are_tolerated(home, tmp_path):
    from amlocal import _settings
    from amlocal._engine.snapshot import list_files, take_snapshot

    src = tmp_path / "src"
    (src / "churn").mkdir(parents=True)
    (src / "keep.py").write_text("kept\n")
    stop = threading.Event()

    def churn():  # a process writing and removing files (and folders) as the snapshot is taken
        i = 0
        while not stop.is_set():
            folder = src / "churn" / f"d{i % 7}"
            folder.mkdir(exist_ok=True)
            path = folder / f"f{i % 50}.tmp"
            path.write_text("x" * 1000)
            path.unlink()
            if i % 13 == 0:
                for leftover in folder.iterdir():
                    leftover.unlink()
                folder.rmdir()
            i += 1

    worker = threading.Thread(target=churn, daemon=True)
    worker.start()
    snapshots = _settings.current().snapshots
    try:
        digests = {take_snapshot(src, snapshots) for _ in range(30)}
    finally:
        stop.set()
        worker.join()
    for digest in digests:  # every stored copy holds what its digest names
        stored = snapshots / digest
        assert (stored / "keep.py").read_text() == "kept\n"
        assert take_snapshot(stored, snapshots) == digest
    # a listed file that is gone when read is left out, as if it had never been there
    assert take_snapshot(src, snapshots, files=["keep.py", "gone.py"]) == \
        take_snapshot(src, snapshots, files=["keep.py"])
    assert "keep.py" in list_files(src)
