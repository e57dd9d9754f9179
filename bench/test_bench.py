"""The benchmark script's own checks (``python -m pytest bench -q``). No timing assertions:
these check that the figures are measured and reported, not how fast anything is."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import cases
import harness
import loadgen
import parallel_cases
import run as bench_run
import studio_cases


def _docker_answers() -> bool:
    try:
        harness.check_docker()
        return True
    except harness.BenchError:
        return False


def test_unknown_benchmark_name_lists_the_valid_ones(capsys):
    with pytest.raises(SystemExit):
        bench_run.parse_args(["--only", "nope"])
    err = capsys.readouterr().err
    for name in ("overhead", "resubmit", "parallel", "mount-read"):
        assert name in err


def test_every_benchmark_has_defaults_and_a_description():
    assert set(bench_run.DEFAULT_REPEATS) == set(bench_run.BENCHMARKS) == set(bench_run.WHAT)
    added = {name for module in bench_run.CASE_MODULES for name in module.BENCHMARKS}
    assert set(cases.BENCHMARKS) | set(studio_cases.BENCHMARKS) | set(parallel_cases.BENCHMARKS) \
        | added == set(bench_run.BENCHMARKS)


def test_store_timestamps_convert_to_the_host_clock():
    import time

    from amlocal.store.entities import utcnow
    assert abs(harness.epoch(utcnow()) - time.time()) < 5
    assert harness.epoch(None) is None


def test_big_file_is_exact_and_not_sparse(tmp_path):
    path = tmp_path / "big.bin"
    cases._write_file(path, 20)              # 2.5 chunks: exercises the remainder
    st = path.stat()
    assert st.st_size == 20 * 1024 * 1024
    assert st.st_blocks * 512 >= st.st_size  # real blocks on disk
    assert path.read_bytes()[:4096] != b"\0" * 4096


def test_read_script_reports_what_it_read(tmp_path):
    data = tmp_path / "f.bin"
    cases._write_file(data, 9)
    script = harness.write_script(tmp_path / "src", "read.py", cases.READ_SCRIPT)
    passes: list = []
    mbps = cases._host_read([sys.executable, str(script), "--path", str(data), "--passes", "3"],
                            passes)
    assert mbps > 0 and len(passes) == 1 and len(passes[0]) == 3
    done = subprocess.run([sys.executable, str(script), "--path", str(data), "--passes", "2"],
                          capture_output=True, text=True, check=True)
    total, _, each = cases._parse_read(done.stdout, "on the host")
    assert total == 9 * 1024 * 1024 and len(each) == 2
    with pytest.raises(harness.BenchError, match="no AMLBENCH_READ line"):
        cases._parse_read("Traceback ...", "on the host")


def test_failed_benchmark_is_a_row_not_a_crash():
    result = bench_run._failed("overhead", "no Docker engine answers")
    (row,) = bench_run.rows([result])
    assert row[0] == "overhead" and row[-1] == "error" and row[1] == "-"


def test_bench_home_is_temporary_and_restores_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("AMLOCAL_HOME", str(tmp_path / "mine"))
    monkeypatch.setenv("AMLOCAL_STORE_URL", "sqlite:///" + str(tmp_path / "other.db"))
    with harness.bench_home("t") as (ws, root):
        assert os.environ["AMLOCAL_HOME"] == str(root / "home")
        assert "AMLOCAL_STORE_URL" not in os.environ
        assert (root / "home" / "amlocal.db").exists() and ws.name == "bench-t"
    assert not root.exists()
    assert os.environ["AMLOCAL_HOME"] == str(tmp_path / "mine")
    assert os.environ["AMLOCAL_STORE_URL"].endswith("other.db")


@pytest.mark.skipif(not _docker_answers(), reason="no Docker engine answers")
def test_run_writes_a_complete_row_for_the_overhead_benchmark(tmp_path):
    out = tmp_path / "r.json"
    env = {k: v for k, v in os.environ.items() if k not in ("AMLOCAL_HOME", "AMLOCAL_STORE_URL")}
    done = subprocess.run([sys.executable, str(BENCH / "run.py"), "--only", "overhead",
                           "--repeats", "1", "--json", str(out)],
                          capture_output=True, text=True, check=False, env=env, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "overhead" in done.stdout and "ratio <= 1.2" in done.stdout
    (row,) = json.loads(out.read_text())["results"]
    assert row["error"] is None and row["met"] in (True, False)
    assert row["ratio"] == pytest.approx(row["amlocal"] / row["baseline"])
    assert row["details"]["image"].startswith("amlocal-env:")
    breakdown = row["details"]["breakdown_median_s"]
    assert "first container started -> last container exited" in breakdown


def test_frame_bridge_measures_both_sides_on_a_small_frame():
    result = studio_cases.frame_bridge(repeats=2, rows=2000)
    assert result.error is None and result.met in (True, False)
    assert len(result.samples["amlocal_s"]) == len(result.samples["baseline_s"]) == 2
    assert result.ratio == pytest.approx(result.amlocal / result.baseline)
    assert len(result.details["columns"]) == 10 and result.details["rows"] == 2000
    assert "read_table_folder" in result.details["breakdown_median_s"]
    assert any("result equals the input" in n for n in result.notes)


def _serve(status: int):
    """A real HTTP/1.1 keep-alive server on 127.0.0.1 answering every POST with ``status``."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            body = b'{"predictions": [1.5]}'
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_load_generator_counts_every_request_on_keep_alive_connections():
    server = _serve(200)
    try:
        run = loadgen.load(server.server_address[1], "/x", b"{}", {}, total=100,
                                concurrency=4)
        endpoint = studio_cases.Endpoint("t", f"http://localhost:{server.server_address[1]}/x",
                                         {}, {}, lambda a: a["predictions"][0])
        assert endpoint.once() == 1.5
    finally:
        server.shutdown()
    assert run["ok"] == 100 and run["failed"] == 0 and run["reconnects"] == 0
    figures = loadgen.summarize(run)
    assert 0 < figures["p50_ms"] <= figures["p99_ms"] and figures["rps"] > 0


def test_load_generator_reports_failures_and_says_why():
    server = _serve(500)
    try:
        run = loadgen.load(server.server_address[1], "/x", b"{}", {}, total=10,
                                concurrency=2)
    finally:
        server.shutdown()
    assert run["ok"] == 0 and run["failed"] == 10 and "HTTP 500" in run["first_failure"]
    with pytest.raises(harness.BenchError, match="no request succeeded: HTTP 500"):
        loadgen.summarize(run)


def test_webservice_row_shows_its_figures_in_the_table():
    result = harness.Result("webservice", "w", "ms", "t", amlocal=2.0, baseline=9.0,
                            details={"cells": {"amlocal": "p50 2.00 ms, 900 req/s"}})
    (row,) = bench_run.rows([result])
    assert row[1] == "p50 2.00 ms, 900 req/s" and row[2] == "9.00 ms"


def test_pool_baseline_processes_every_file(tmp_path):
    parallel_cases.make_files(tmp_path / "docs", 250)
    script = harness.write_script(tmp_path / "src", "score.py", parallel_cases.ENTRY_SCRIPT)
    seconds, lines = parallel_cases.pool_once(tmp_path / "docs", script, tmp_path / "out.txt")
    assert seconds > 0 and lines == 250
    sizes = sorted(int(x) for x in (tmp_path / "out.txt").read_text().split())
    assert sizes == sorted(64 + i % 128 for i in range(250))


@pytest.mark.skipif(not _docker_answers(), reason="no Docker engine answers")
def test_parallel_run_step_measures_both_sides_on_few_files():
    result = parallel_cases.parallel_run_step(repeats=1, files=200)
    assert result.error is None and result.met in (True, False)
    assert len(result.samples["amlocal_s"]) == len(result.samples["baseline_s"]) == 1
    assert result.ratio == pytest.approx(result.amlocal / result.baseline)
    assert 0 < result.details["driver_median_s"] < result.amlocal
