"""Copying many files at once: on threads for a remote store (each copy mostly waits on the
network), one after the other on the local disk. Shared by transfers and the dataset cache.

Only the standard library."""
from __future__ import annotations

REMOTE_WORKERS = 8


def each_file(func, items: list, parallel: bool) -> list:
    """``[func(item) for item in items]``, on up to REMOTE_WORKERS threads when ``parallel``
    (remote stores: each copy mostly waits on the network). The first error is raised once the
    copies already running have ended; the ones not started yet are dropped."""
    if not parallel or len(items) < 2:
        return [func(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=min(REMOTE_WORKERS, len(items)),
                            thread_name_prefix="amlocal-transfer") as pool:
        futures = [pool.submit(func, item) for item in items]
        try:
            return [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise
