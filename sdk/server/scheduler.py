"""(being built) The scheduler that fires schedules while the server runs."""
from __future__ import annotations


class Scheduler:
    def __init__(self, store, clock=None):
        self.store = store
        self.clock = clock

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass
