"""The ParallelRunStep benchmark of issue 7, section 4.

``parallel-run-step``: 10,000 small files (``--files``) of a FileDataset on a ``file://``
datastore go through a trivial entry script (``run()`` reads each file and returns its size)
with ``process_count_per_node=2``, ``mini_batch_size=10`` and ``output_action='append_row'``:
a one-step pipeline, from ``submit()`` until ``wait_for_completion()`` returns. The baseline
does the same work on the host in the same run: list the folder, ``multiprocessing.Pool(2)``
maps the same ``run()`` over the same 10-file chunks, and the returned sizes are written to one
file, timed from creating the pool to the file being closed. Measured alternately after one
warm-up of each (the image is warm: building it is not what is measured).
"""
from __future__ import annotations

import importlib.util
import multiprocessing
import os
import re
import sys
import time
from pathlib import Path

from harness import BenchError, Result, bench_home, median, quiet, submit_and_wait, write_script

FILES = 10_000
PROCESSES = 2
MINI_BATCH = 10
TARGET = 1.5
ENTRY_SCRIPT = '''
def run(mini_batch):
    sizes = []
    for path in mini_batch:
        with open(path, "rb") as f:
            sizes.append(len(f.read()))
    return sizes
'''
_DRIVER_TIME = re.compile(r"job succeeded in ([\d.]+) s")


def make_files(folder: Path, count: int) -> None:
    """``count`` files of 64 to 191 bytes in 100-file sub-folders (as data lakes lay them out)."""
    for i in range(count):
        sub = folder / f"part{i // 100:04d}"
        if i % 100 == 0:
            sub.mkdir(parents=True, exist_ok=True)
        (sub / f"doc{i:05d}.txt").write_bytes(b"x" * (64 + i % 128))


def _load_run(script: Path):
    spec = importlib.util.spec_from_file_location("bench_prs_score", script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module   # the pool pickles run() by its module's name
    spec.loader.exec_module(module)
    return module.run


def _listing(folder: Path) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        found += [os.path.join(dirpath, f) for f in sorted(filenames)]
    return found


def pool_once(folder: Path, script: Path, out: Path,
              processes: int = PROCESSES) -> tuple[float, int]:
    """The baseline: list, Pool(processes).imap_unordered(run, 10-file chunks), write sizes.
    Returns (seconds, lines written)."""
    run = _load_run(script)
    start = time.perf_counter()
    files = _listing(folder)
    chunks = [files[i:i + MINI_BATCH] for i in range(0, len(files), MINI_BATCH)]
    lines = 0
    with multiprocessing.get_context("fork").Pool(processes) as pool, \
            open(out, "w", encoding="utf-8") as f:
        for sizes in pool.imap_unordered(run, chunks):
            f.write("".join(f"{s}\n" for s in sizes))
            lines += len(sizes)
    return time.perf_counter() - start, lines


def parallel_run_step(repeats: int = 3, files: int = FILES) -> Result:
    result = Result(
        "parallel-run-step", f"ParallelRunStep over {files:,} small files, 2 processes, "
        "trivial run(): submit() -> wait_for_completion()", "s", f"ratio <= {TARGET}",
        baseline_label=f"multiprocessing.Pool({PROCESSES}) on the host, same run() and chunks")
    from amlocal.core import Dataset, Datastore, Environment
    from amlocal.data import OutputFileDatasetConfig
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import ParallelRunConfig, ParallelRunStep
    with bench_home("parallel-run") as (ws, root):
        lake = root / "lake"
        make_files(lake / "docs", files)
        script = write_script(root / "src", "score.py", ENTRY_SCRIPT)
        with quiet():
            store = Datastore.register(ws, "benchlake", url=lake.as_uri())
        docs = Dataset.File.from_files((store, "docs"))
        config = ParallelRunConfig(
            environment=Environment("bench-prs"), entry_script="score.py",
            source_directory=str(script.parent), error_threshold=0,
            output_action="append_row", compute_target="local", node_count=1,
            process_count_per_node=PROCESSES, mini_batch_size=MINI_BATCH)
        step = ParallelRunStep(name="score-docs", parallel_run_config=config,
                               inputs=[docs.as_named_input("docs")],
                               output=OutputFileDatasetConfig("sizes"), allow_reuse=False)
        pipeline = Pipeline(ws, [step])
        submit_and_wait(pipeline, "bench-prs", timeout=600)          # warm-up: image, runtime
        pool_once(lake / "docs", script, root / "pool.txt")            # warm-up: page cache
        ours, pool, driver = [], [], []
        for _ in range(repeats):                       # interleaved: both see the same load
            timed = submit_and_wait(pipeline, "bench-prs", timeout=600)
            ours.append(timed.wall)
            driver.append(_driver_seconds(timed, files))
            seconds, lines = pool_once(lake / "docs", script, root / "pool.txt")
            if lines != files:
                raise BenchError(f"the Pool baseline wrote {lines} lines for {files} files")
            pool.append(seconds)
    result.amlocal, result.baseline = median(ours), median(pool)
    result.ratio = result.amlocal / result.baseline
    result.met = result.ratio <= TARGET
    result.samples = {"amlocal_s": _r(ours), "baseline_s": _r(pool), "driver_s": _r(driver)}
    inside = median(driver)
    result.details = {"files": files, "processes": PROCESSES, "mini_batch_size": MINI_BATCH,
                      "driver_median_s": round(inside, 3),
                      "driver_ratio": round(inside / result.baseline, 2)}
    result.notes.append(
        f"inside the container the driver (split into {files // MINI_BATCH:,} mini-batches, 2 "
        f"forked workers, append_row file) took {inside:.2f} s: {inside / result.baseline:.2f}x "
        "the Pool; the rest of the wall time is the pipeline run around it (runner, container "
        "start and removal, outputs) that every step pays, see the `overhead` benchmark")
    return result


def _driver_seconds(timed, files: int) -> float:
    step = timed.steps()[0]
    log = step.get_job_log()
    found = _DRIVER_TIME.search(log)
    if not found or f"items: {files} succeeded, 0 failed" not in log:
        raise BenchError(f"step run {step.id} did not process {files} files: "
                         f"{log.strip().splitlines()[-3:]}")
    return float(found.group(1))


def _r(values, digits: int = 3) -> list:
    return [round(v, digits) for v in values]


BENCHMARKS = {
    "parallel-run-step": parallel_run_step,
}
