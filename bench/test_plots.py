"""Checks of the curves' PNG (``bench/plots.py``, ``run.py --plot``) and of the store-scale
benchmark's own machinery (``bench/scale_cases.py``) on tiny stores. No Docker, no timing
assertions."""
from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import harness
import plots
import run as bench_run
import scale_cases

PNG = b"\x89PNG\r\n\x1a\n"


def _curved(name: str, series: dict) -> harness.Result:
    result = harness.Result(name, "a figure that grows", "ms", "ratio <= 2", amlocal=2.0,
                            baseline=1.0, ratio=2.0, met=True)
    result.details["curve"] = {"title": f"{name} as it grows", "x_label": "items",
                               "y_label": "ms", "series": series}
    return result


def test_every_result_with_a_curve_is_drawn_into_one_png(tmp_path):
    results = [_curved("a", {"fast": [[100, 1.0], [10_000, 1.2]], "slow": [[100, 2], [10_000, 9]]}),
               harness.Result("no-curve", "a plain figure", "s", "< 1 s", amlocal=0.5),
               _curved("b", {"only": [[1_000, 3.0], [10, 1.0], [100, 2.0]]}),
               _curved("empty", {"nothing": []})]
    assert [r.name for r, _ in plots.curves(results)] == ["a", "b"]
    path = tmp_path / "out" / "curves.png"
    assert plots.write_plots(results, path) is True
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > 5_000


def test_no_curve_means_no_file(tmp_path):
    path = tmp_path / "curves.png"
    assert plots.write_plots([harness.Result("x", "y", "s", "t")], path) is False
    assert not path.exists()


def test_run_draws_the_curves_with_plot(tmp_path, monkeypatch, capsys):
    def fake(repeats):
        return _curved("fake-scale", {"listing": [[100, 1.0], [1_000, 1.1], [10_000, 1.3]]})
    monkeypatch.setitem(bench_run.BENCHMARKS, "fake-scale", fake)
    monkeypatch.setitem(bench_run.WHAT, "fake-scale", ("a fake", "ms", "ratio <= 2"))
    monkeypatch.setitem(bench_run.DEFAULT_REPEATS, "fake-scale", 1)
    monkeypatch.setattr(bench_run, "NO_DOCKER", bench_run.NO_DOCKER | {"fake-scale"})
    path = tmp_path / "bench.png"
    assert bench_run.main(["--only", "fake-scale", "--plot", str(path)]) == 0
    assert path.read_bytes().startswith(PNG)
    assert f"curves drawn in {path}" in capsys.readouterr().out


def test_store_scale_is_registered_without_docker():
    assert "store-scale" in bench_run.BENCHMARKS and "store-scale" in bench_run.NO_DOCKER
    what, unit, target = bench_run.WHAT["store-scale"]
    assert unit == "ms" and target == "ratio <= 2"


def test_summary_takes_the_worst_listing_and_keeps_curve_only_series_out():
    samples = {"flat": {100: [0.010, 0.011], 1_000: [0.010], 10_000: [0.012]},
               "grows": {100: [0.010], 1_000: [0.020], 10_000: [0.030]},
               "get_runs() all": {100: [0.01], 1_000: [0.1], 10_000: [1.0]}}
    curve, worst, ratio = scale_cases.summarize(samples)
    assert worst == "grows" and abs(ratio - 3.0) < 1e-9
    assert curve["series"]["grows"] == [[100, 10.0], [1_000, 20.0], [10_000, 30.0]]
    assert set(curve["series"]) == set(samples)


def test_tiny_stores_are_written_served_and_every_listing_sees_runs(tmp_path, monkeypatch):
    """The real listings (CLI, get_runs, read API through a real server, the page's list) on
    stores of 2 and 4 pipeline runs (each with its 5 steps)."""
    monkeypatch.setenv("AMLOCAL_HOME", str(tmp_path / "outer-home"))
    sizes = (2, 4)
    monkeypatch.setattr(scale_cases, "listings", _small_listings(scale_cases.listings))
    with scale_cases.sized_stores(tmp_path, sizes) as stores:
        for size, sized in stores.items():
            assert sized.ws._store.count_runs(sized.ws._id) == size * (1 + scale_cases.STEPS)
            assert sized.ws._store.count_runs(sized.ws._id, top_level=True) == size
            page = sized.client.get(f"/api/v1/workspaces/{sized.ws._id}/runs")
            assert page["count"] == size and page["value"][0]["runId"] == f"pipe_{size - 1:06d}"
        samples = scale_cases.measure(stores, repeats=1)
    assert set(samples) == set(scale_cases.LISTINGS) | set(scale_cases.CURVE_ONLY)
    assert all(len(by_size[s]) == 1 for by_size in samples.values() for s in sizes)
    assert str(tmp_path / "outer-home") == __import__("os").environ["AMLOCAL_HOME"]


def _small_listings(real):
    """The real listings, but get_runs' "first 100" takes what a tiny store has."""
    def listings(ws, client):
        todo = real(ws, client)
        from amlocal.core import Experiment

        def first_runs():
            assert len(list(Experiment(ws, scale_cases.EXPERIMENT).get_runs())) >= 2
        todo["get_runs() first 100"] = first_runs
        todo["get_runs() all"] = first_runs
        return todo
    return listings
