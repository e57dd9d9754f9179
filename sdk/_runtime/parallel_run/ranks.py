"""One ParallelRunStep spread over the copies a cluster starts (``node_count > 1`` on a ``ray``
target): which mini-batches each copy runs, and what it hands over for the combined result.

The backend starts ``AMLOCAL_NODE_COUNT`` copies of the step, each with its ``AMLOCAL_NODE_RANK``
(0..n-1), on nodes of their own. A copy has a working directory and output folders of its own
(the ``ray`` backend ships them to its node and brings back what it wrote when it exits), so
the copies share nothing while they run:

* **Who runs which mini-batch**: every copy plans the same mini-batches (the same inputs,
  listed in the same order) and runs those whose id modulo the number of copies is its rank
  (round-robin: neighbouring mini-batches, often alike in cost, go to different nodes), as ONE
  node of the job: node ``rank`` with ``process_count_per_node`` workers
  (:class:`~.nodes.LocalNodes` with ``nodes=[rank]``); a copy with nothing to run starts no
  worker. Retries stay on the node that failed.
* **Limits while running**: each copy applies ``error_threshold`` and ``allowed_failed_count``
  to its own counts (its failures alone exceeding a limit means the job's do) and stops at once.
* **What it hands over** (files of its own names, so the copies never write the same file):
  its ``append_row`` lines in the hidden part file ``.<append_row_file_name>.rank<k>.partial``
  of the output folder; its counts, limits and outcome in
  ``.amlocal_parallel_run/rank<k>.json`` (:data:`HANDOFF_FORMAT`); its failure lines and
  progress in ``.amlocal_parallel_run/node<k>/``; its master/agent log (rank 0:
  ``logs/sys/master_role.txt``, the others ``logs/sys/node/node<k>/agent_role.txt``) and its
  workers' logs under their node's name, as locally.
* **The combined result** is made on the host once every copy has exited
  (:func:`amlocal._engine.parallel_copies.finish_copies`, run by the runner): the counts are
  summed and every limit (``allowed_failed_percent`` too) is applied to the sum, the parts are
  merged IN RANK ORDER into the output file (a failed job leaves none), and
  ``logs/job_result.txt``, ``logs/job_error.txt``, ``logs/user/error.txt`` and
  ``logs/job_progress_overview.txt`` are written as a single-node job writes them. A copy exits 1
  only when it failed itself; the step fails when any copy did or when the sum exceeds a limit.
"""
from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from .batches import MiniBatch
from .progress import Tally
from .settings import JobSettings, SettingsError

HANDOFF = Path(".amlocal_parallel_run")
HANDOFF_FORMAT = 1
_COUNTS = ("done", "succeeded", "given_up", "failed_attempts", "items_ok", "items_failed")


def node_ranks() -> tuple[int, int]:
    """``(rank, count)`` of this copy from ``AMLOCAL_NODE_RANK`` / ``AMLOCAL_NODE_COUNT``;
    ``(0, 1)`` without them (a backend without nodes). Raises SettingsError for values that are
    not a rank below a count >= 1."""
    rank_text = os.environ.get("AMLOCAL_NODE_RANK", "0")
    count_text = os.environ.get("AMLOCAL_NODE_COUNT", "1")
    try:
        rank, count = int(rank_text), int(count_text)
    except ValueError:
        rank, count = -1, 0
    if count < 1 or not 0 <= rank < count:
        raise SettingsError(f"AMLOCAL_NODE_RANK={rank_text!r} / AMLOCAL_NODE_COUNT="
                            f"{count_text!r} are not a rank 0..count-1 of a count >= 1")
    return rank, count


class RankShare:
    """This copy's share of the job (see the module docstring)."""

    def __init__(self, rank: int, count: int, settings: JobSettings):
        self.rank, self.count, self.settings = rank, count, settings
        self.host = socket.gethostname()
        self.folder = HANDOFF / f"node{rank}"
        self.folder.mkdir(parents=True, exist_ok=True)

    @property
    def node(self) -> str:
        return f"node{self.rank}"

    @property
    def part(self) -> str:
        return f"rank{self.rank}"

    @property
    def error_log(self) -> Path:
        return self.folder / "error.txt"

    @property
    def progress_log(self) -> Path:
        return self.folder / "progress.txt"

    def claim(self, batch: MiniBatch) -> bool:
        """Whether this copy runs ``batch`` (round-robin by mini-batch id)."""
        return batch.id % self.count == self.rank

    def hand_off(self, tally: Tally, error: str | None) -> Path:
        """Write what the host combines (``rank<k>.json``, atomically). Returns its path."""
        s = self.settings
        data = {"format": HANDOFF_FORMAT, "rank": self.rank, "count": self.count,
                "host": self.host, "state": "failed" if error else "done", "error": error,
                "total": tally.total, "counts": {k: getattr(tally, k) for k in _COUNTS},
                "failing": sorted(tally.failing),
                "limits": {"error_threshold": s.error_threshold,
                           "allowed_failed_count": s.allowed_failed_count,
                           "allowed_failed_percent": s.allowed_failed_percent},
                "append_row": s.append_row, "output": s.output,
                "append_row_file_name": s.append_row_file_name,
                "seconds": round(time.monotonic() - tally.started, 3)}
        path = HANDOFF / f"rank{self.rank}.json"
        tmp = HANDOFF / f".rank{self.rank}.json.tmp"
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)
        return path

