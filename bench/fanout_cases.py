"""How a pipeline's cost grows with its size (issue 11): a 200-step fan-out/fan-in pipeline of
``pass`` steps at the default parallelism, against what the parallelism allows.

The steps are ``first`` -> 198 independent steps -> ``last`` (``run_after`` edges, as a
pipeline of steps without data would be wired), every step ``allow_reuse=False``. The figure is
``submit()`` until ``wait_for_completion()`` returns. The baseline, measured in the same run
before it, is what perfect scheduling would take: (200 / parallelism) x one step's time, where
one step's time is the median duration of the same ``pass`` step run alone (a 1-step pipeline,
its step run from Preparing to its end, as the store records it). Smaller pipelines (10 and 50
steps of the same shape) give the curve.
"""
from __future__ import annotations

import os

from harness import (Result, bare_runs_at_once, bench_home, epoch, median, submit_and_wait,
                     write_script)

STEPS = 200
CURVE = (10, 50, 200)
TARGET = 1.3


def _parallelism() -> int:
    return max(1, int(os.environ.get("AMLOCAL_MAX_PARALLEL_STEPS", "4")))


def _pipeline(ws, src, count: int):
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import PythonScriptStep

    def step(name):
        return PythonScriptStep("noop.py", name=name, source_directory=str(src), allow_reuse=False)

    if count == 1:
        return Pipeline(ws, [step("only")])
    first, last = step("first"), step("last")
    middle = [step(f"s{i:03d}") for i in range(count - 2)]
    for s in middle:
        s.run_after(first)
        last.run_after(s)
    return Pipeline(ws, [first, *middle, last])


def _step_seconds(timed) -> list[float]:
    out = []
    for s in timed.steps():
        info = s._refresh()
        if info.started_at and info.ended_at:
            out.append(epoch(info.ended_at) - epoch(info.started_at))
    return out


def fanout(repeats: int = 1) -> Result:
    parallel = _parallelism()
    result = Result(
        "fanout", f"{STEPS}-step fan-out/fan-in of `pass` steps, parallelism {parallel}: "
        "submit() -> wait_for_completion()", "s", f"ratio <= {TARGET}",
        baseline_label=f"({STEPS} / {parallel}) x one `pass` step's time (a 1-step pipeline's "
                       "step run, median)")
    with bench_home("fanout") as (ws, root):
        src = root / "src"
        write_script(src, "noop.py", "pass\n")
        single = _pipeline(ws, src, 1)
        warm = submit_and_wait(single, "bench-fanout-one")      # warm-up
        image = warm.steps()[0].properties.get("amlocal.image")
        lone, rounds = [], []
        for _ in range(5):
            lone += _step_seconds(submit_and_wait(single, "bench-fanout-one"))
            rounds.append(bare_runs_at_once(image, parallel))
        one_step, one_round = median(lone), median(rounds)
        curve_ours, curve_ideal, curve_engine, walls, inside = [], [], [], [], []
        for count in CURVE:
            pipeline = _pipeline(ws, src, count)
            runs = []
            for _ in range(repeats if count == STEPS else 1):
                timed = submit_and_wait(pipeline, f"bench-fanout-{count}", timeout=1800)
                runs.append(timed.wall)
                if count == STEPS:
                    inside += _step_seconds(timed)
            wall = median(runs)
            curve_ours.append([count, round(wall, 3)])
            curve_ideal.append([count, round(count / parallel * one_step, 3)])
            curve_engine.append([count, round(count / parallel * one_round, 3)])
            if count == STEPS:
                walls = runs
    result.amlocal = median(walls)
    result.baseline = STEPS / parallel * one_step
    result.ratio = result.amlocal / result.baseline
    result.met = result.ratio <= TARGET
    engine_bound = STEPS / parallel * one_round
    result.samples = {"amlocal_s": [round(w, 3) for w in walls],
                      "one_step_s": [round(x, 3) for x in lone],
                      "bare_round_s": [round(x, 3) for x in rounds]}
    result.details = {
        "parallelism": parallel, "one_step_s": round(one_step, 3),
        "bare_round_s": round(one_round, 3), "engine_bound_s": round(engine_bound, 3),
        "median_step_in_pipeline_s": round(median(inside), 3) if inside else None,
        "curve": {"title": "fan-out/fan-in pipeline of pass steps", "x_label": "steps",
                  "y_label": "seconds", "series": {
                      "amlocal": curve_ours,
                      "(steps / parallelism) x one step": curve_ideal,
                      f"(steps / parallelism) x {parallel} bare docker runs at once": curve_engine}}}
    result.notes.append(f"one `pass` step alone: {one_step:.2f} s (median of {len(lone)}); "
                        f"inside the {STEPS}-step run a step took {median(inside):.2f} s (median)"
                        if inside else f"one `pass` step alone: {one_step:.2f} s")
    result.notes.append(
        f"{parallel} bare `docker run --rm <image> python -c pass` started at once take "
        f"{one_round:.2f} s here; {STEPS // parallel} such rounds would take "
        f"{engine_bound:.1f} s, so the pipeline takes {result.amlocal / engine_bound:.2f}x what "
        "the engine itself needs for as many containers at this parallelism")
    result.notes.append("curve (steps: amlocal s / ideal s): " + ", ".join(
        f"{a[0]}: {a[1]:.1f} / {b[1]:.1f}" for a, b in zip(curve_ours, curve_ideal)))
    return result


BENCHMARKS = {"fanout": fanout}
WHAT = {"fanout": (f"{STEPS}-step fan-out/fan-in of pass steps", "s", f"ratio <= {TARGET}")}
DEFAULT_REPEATS = {"fanout": 1}
