"""The metric benchmarks' own checks (``python -m pytest bench -q``): the figures are measured
and reported; nothing here asserts how fast anything is."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import harness
import metrics_cases
import run as bench_run


def test_the_rows_are_registered_with_their_defaults():
    for name in ("log-metrics", "metrics-scale"):
        assert name in bench_run.BENCHMARKS and name in bench_run.WHAT
        assert bench_run.DEFAULT_REPEATS[name] >= 1
    assert "metrics-scale" in bench_run.NO_DOCKER and "log-metrics" not in bench_run.NO_DOCKER


def test_the_step_and_mlflow_lines_are_read_back():
    found = metrics_cases.parse_log_line(
        "noise\nAMLBENCH_METRICS seconds=0.123456 log_loop=0.020000 visible=0.103456 polls=1 "
        "values=10000\n", "in a log")
    assert found == {"seconds": 0.123456, "log_loop": 0.02, "visible": 0.103456, "polls": 1,
                     "values": 10000}
    with pytest.raises(harness.BenchError, match="no AMLBENCH_METRICS line in step run x"):
        metrics_cases.parse_log_line("Traceback ...\nValueError: boom", "in step run x")
    assert metrics_cases.parse_mlflow_lines(
        "AMLBENCH_MLFLOW seconds=70.5 log_loop=70.4 visible=0.1\n") == [
        {"seconds": 70.5, "log_loop": 70.4, "visible": 0.1}]


def test_metrics_scale_measures_a_curve_on_small_runs():
    result = metrics_cases.metrics_scale(repeats=1, sizes=(100, 1000))
    assert result.error is None and result.ratio is not None and result.met is not None
    curve = result.details["curve"]
    assert set(curve["series"]) == {"host Run.get_metrics()", "step client (run service)"}
    assert all([x for x, _ in points] == [100, 1000] for points in curve["series"].values())
    assert set(result.details["other_metric_s"]) == {"host_s", "client_s", "small_run_host_s",
                                                     "small_run_client_s"}
    assert any("time per value" in note for note in result.notes)


def test_log_metrics_row_measures_both_sides_with_few_values():
    try:
        harness.check_docker()
    except harness.BenchError as exc:
        pytest.skip(str(exc))
    result = metrics_cases.log_metrics(repeats=1, values=200)
    assert result.error is None and result.amlocal is not None
    assert result.details["breakdown_median_s"]["polls"] >= 1
    if result.baseline is None:        # mlflow could not be installed: said so in the notes
        assert any("mlflow baseline not measured" in n for n in result.notes)
    else:
        assert result.ratio is not None and result.details["speedup"] > 0
