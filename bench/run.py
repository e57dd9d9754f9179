"""Benchmarks of issues 3 and 4, section 6: amlocal's figures against baselines measured in the
same run.

    python bench/run.py                      # all six
    python bench/run.py --only overhead      # one (repeat --only for several)
    python bench/run.py --json bench.json    # also save every sample and breakdown

Prints a table: benchmark, amlocal figure, baseline figure, ratio (amlocal / baseline), target,
met. These are measurements, not tests: a missed target is printed, not raised, and the exit
status is 0 unless a benchmark could not measure at all (then 1). See bench/README.md.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import build_cases
import cases
import fanout_cases
import loadgen
import metrics_cases
import parallel_cases
import ray_cases
import scale_cases
import serve_cases
import studio_cases
from harness import BenchError, Result, check_docker, machine

# Modules added later declare their own BENCHMARKS, WHAT, DEFAULT_REPEATS (and NO_DOCKER when
# they need no engine): list them here.
CASE_MODULES: tuple = (fanout_cases, metrics_cases, build_cases, scale_cases, serve_cases,
                       ray_cases)

BENCHMARKS = {**cases.BENCHMARKS, **studio_cases.BENCHMARKS, **parallel_cases.BENCHMARKS}
NO_DOCKER = {"frame-bridge"}        # measured on the host: our code, no container
DEFAULT_REPEATS = {"overhead": 5, "resubmit": 3, "parallel": 3, "mount-read": 5,
                   "frame-bridge": 5, "webservice": 3, "parallel-run-step": 3}
WHAT = {
    "overhead": ("1-step pipeline, script `pass`", "s", "ratio <= 1.2"),
    "resubmit": ("unchanged resubmit, 5 steps", "s", "< 0.1 s, 0 containers"),
    "parallel": ("4 parallel steps sleeping 3 s", "s", "ratio <= 1.1"),
    "mount-read": ("1 GiB read via as_mount()", "MB/s", "ratio >= 0.9"),
    "frame-bridge": ("1M x 10 frame through azureml_main", "s", "ratio <= 1.5"),
    "webservice": ("one-row requests to a pipeline service", "ms", studio_cases.TARGET),
    "parallel-run-step": ("ParallelRunStep, 10,000 files, 2 processes", "s", "ratio <= 1.5"),
}
for _module in CASE_MODULES:
    BENCHMARKS.update(_module.BENCHMARKS)
    WHAT.update(_module.WHAT)
    DEFAULT_REPEATS.update(_module.DEFAULT_REPEATS)
    NO_DOCKER |= set(getattr(_module, "NO_DOCKER", ()))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python bench/run.py", description=__doc__.split("\n")[0])
    p.add_argument("--only", action="append", choices=list(BENCHMARKS), metavar="NAME",
                   help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}")
    p.add_argument("--repeats", type=int, default=None,
                   help="measurements per benchmark, the median is reported (default: overhead "
                        "and mount-read 5, the others 3)")
    p.add_argument("--size-mb", type=int, default=1024,
                   help="size of the mount-read file in MiB (default 1024)")
    p.add_argument("--rows", type=int, default=studio_cases.ROWS,
                   help=f"rows of the frame-bridge frame (default {studio_cases.ROWS:,})")
    p.add_argument("--requests", type=int, default=studio_cases.REQUESTS,
                   help="requests per measured round of the webservice benchmark "
                        f"(default {studio_cases.REQUESTS})")
    p.add_argument("--concurrency", type=int, default=loadgen.CONCURRENCY,
                   help="connections the webservice load generator keeps open "
                        f"(default {loadgen.CONCURRENCY})")
    p.add_argument("--mlflow-workers", type=int, default=studio_cases.MLFLOW_WORKERS,
                   help="uvicorn workers of the mlflow baseline (default "
                        f"{studio_cases.MLFLOW_WORKERS}, mlflow's own default)")
    p.add_argument("--files", type=int, default=parallel_cases.FILES,
                   help="files of the parallel-run-step dataset (default "
                        f"{parallel_cases.FILES:,})")
    p.add_argument("--plot", metavar="FILE", help="also draw every scaling curve (the results "
                                                   "with a curve) into one PNG, FILE")
    p.add_argument("--json", metavar="FILE", help="also write the results, with every sample, "
                                                   "to FILE")
    args = p.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        p.error("--repeats must be 1 or more")
    if args.size_mb < 8:
        p.error("--size-mb must be 8 or more (the file is read in 8 MB chunks)")
    for name in ("rows", "requests", "concurrency", "mlflow_workers", "files"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be 1 or more")
    return args


def run_one(name: str, args: argparse.Namespace) -> Result:
    repeats = args.repeats or DEFAULT_REPEATS[name]
    serving = {"requests": args.requests, "concurrency": args.concurrency,
               "mlflow_workers": args.mlflow_workers}
    kwargs = {"mount-read": {"size_mb": args.size_mb}, "frame-bridge": {"rows": args.rows},
              "webservice": serving, "model-webservice": serving,
              "parallel-run-step": {"files": args.files},
              }.get(name, {})
    start = time.perf_counter()
    try:
        result = BENCHMARKS[name](repeats, **kwargs)
    except BenchError as exc:
        result = _failed(name, str(exc))
    except Exception as exc:  # noqa: BLE001 - report it in the table, go on with the others
        result = _failed(name, f"{type(exc).__name__}: {exc}")
        result.notes.append(traceback.format_exc())
    result.seconds = round(time.perf_counter() - start, 1)
    return result


def _failed(name: str, message: str) -> Result:
    what, unit, target = WHAT[name]
    return Result(name, what, unit, target, error=message)


# -- output ----------------------------------------------------------------------------------
def _value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value:.2f} ms"
    return f"{value:,.0f} MB/s" if unit == "MB/s" else f"{value:.2f} s"


def rows(results: list[Result]) -> list[list[str]]:
    out = []
    for r in results:
        met = "error" if r.error else ("yes" if r.met else "no")
        cells = r.details.get("cells", {})     # a figure with several numbers (webservice)
        out.append([r.name, cells.get("amlocal", _value(r.amlocal, r.unit)),
                    cells.get("baseline", _value(r.baseline, r.unit)),
                    "-" if r.ratio is None else f"{r.ratio:.2f}x", r.target, met])
    return out


HEADERS = ["benchmark", "amlocal", "baseline", "ratio", "target", "met"]


def print_table(results: list[Result], info: dict) -> None:
    title = (f"amlocal benchmarks ({info['cpus']} CPUs, Docker {info.get('docker_engine')}, "
             f"commit {info.get('commit')})")
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(title)
        widths = [max(len(x) for x in col) for col in zip(HEADERS, *rows(results))]
        for row in [HEADERS, *rows(results)]:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))
    else:
        table = Table(title=title)
        for h in HEADERS:
            table.add_column(h, justify="right" if h in ("amlocal", "baseline", "ratio")
                             else "left")
        for row in rows(results):
            style = {"yes": "green", "no": "red", "error": "bold red"}[row[-1]]
            table.add_row(*row[:-1], f"[{style}]{row[-1]}[/{style}]")
        Console().print(table)
    for r in results:
        print(f"\n{r.name}: {r.what} ({r.seconds} s to measure)")
        if r.baseline_label:
            print(f"  baseline: {r.baseline_label}")
        for line in ([f"error: {r.error}"] if r.error else []) + [n for n in r.notes if n]:
            print(f"  {line.rstrip()}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = [n for n in BENCHMARKS if not args.only or n in args.only]
    info = machine()
    if any(n not in NO_DOCKER for n in names):
        try:
            check_docker()
        except BenchError as exc:
            print(f"cannot run the benchmarks: {exc} (frame-bridge needs no Docker: "
                  "--only frame-bridge)", file=sys.stderr)
            return 1
    load = info.get("load_average")
    if load and info["cpus"] and load[0] > info["cpus"]:
        print(f"note: load average {load[0]} exceeds {info['cpus']} CPUs; other work on this "
              "machine will skew the figures", file=sys.stderr)
    results = []
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        results.append(run_one(name, args))
        print(f"  {name}: done in {results[-1].seconds} s", file=sys.stderr, flush=True)
    print_table(results, info)
    if args.plot:
        import plots
        if plots.write_plots(results, args.plot):
            print(f"curves drawn in {args.plot}")
        else:
            print(f"no result has a curve: {args.plot} not written")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"machine": info, "results": [r.to_dict() for r in results]}, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
