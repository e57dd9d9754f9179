"""A bounded HTTP load generator: threads, one keep-alive ``http.client`` connection each,
127.0.0.1 only. Used by the ``webservice`` benchmark against our service and mlflow alike."""
from __future__ import annotations

import http.client
import itertools
import socket
import threading
import time

from harness import BenchError

CONCURRENCY = 4


def load(port: int, path: str, body: bytes, headers: dict, total: int,
         concurrency: int = CONCURRENCY) -> dict:
    """``total`` POSTs of ``body`` to ``127.0.0.1:port`` from ``concurrency`` threads, each on
    one keep-alive ``http.client`` connection (reopened if the server closes it). Returns
    ``{"latencies_s", "wall_s", "ok", "failed", "reconnects", "first_failure"}``; a request counts
    as ok only with status 200."""
    counter = itertools.count()
    barrier = threading.Barrier(concurrency + 1)
    lock = threading.Lock()
    latencies: list[float] = []
    state = {"failed": 0, "reconnects": 0, "first_failure": None}

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine: list[float] = []
        barrier.wait()
        while next(counter) < total:
            start = time.perf_counter()
            try:
                conn.request("POST", path, body, headers)
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                with lock:
                    state["reconnects"] += 1
                    state["failed"] += 1
                    state["first_failure"] = state["first_failure"] or f"{type(exc).__name__}: {exc}"
                continue
            elapsed = time.perf_counter() - start
            if response.status == 200:
                mine.append(elapsed)
            else:
                with lock:
                    state["failed"] += 1
                    state["first_failure"] = (state["first_failure"]
                                              or f"HTTP {response.status}: {data[:300]!r}")
            if response.will_close:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                with lock:
                    state["reconnects"] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    return {"latencies_s": latencies, "wall_s": wall, "ok": len(latencies), **state}


def summarize(run: dict) -> dict:
    """p50 and p99 in ms and successful requests per second of one :func:`load` round."""
    lat = sorted(run["latencies_s"])
    if not lat:
        raise BenchError(f"no request succeeded: {run['first_failure']}")
    def pick(q: float) -> float:
        return lat[min(len(lat) - 1, round(q * (len(lat) - 1)))]
    return {"p50_ms": pick(0.50) * 1000, "p99_ms": pick(0.99) * 1000,
            "rps": run["ok"] / run["wall_s"], "ok": run["ok"], "failed": run["failed"],
            "reconnects": run["reconnects"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port: int, path: str) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", path)
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False
