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


# -- where the time goes: CPU per request of the processes behind an endpoint -------------------
def cpu_seconds(pids) -> float:
    """User + system CPU seconds used so far by ``pids`` (Linux ``/proc``; a pid that is gone
    counts 0)."""
    import os
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (from ``/proc``)."""
    import os
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


def container_pids(container_id: str) -> list[int]:
    """The host pids of a container's processes (``docker top``)."""
    import subprocess
    done = subprocess.run(["docker", "top", container_id, "-eo", "pid"], capture_output=True,
                          text=True, check=False)
    return [int(x) for x in done.stdout.split()[1:] if x.isdigit()]


def measured_round(round_fn, groups: dict) -> tuple[dict, dict]:
    """Run ``round_fn()`` (a :func:`load` round) and return ``(its summary, {group: CPU
    microseconds per successful request})`` for ``groups`` (``{label: [pids]}``; the client is
    this process, added as ``client``)."""
    import os
    groups = {**groups, "client (this process)": [os.getpid()]}
    before = {k: cpu_seconds(v) for k, v in groups.items()}
    run = summarize(round_fn())
    after = {k: cpu_seconds(v) for k, v in groups.items()}
    return run, {k: round(1e6 * (after[k] - before[k]) / max(1, run["ok"])) for k in groups}
