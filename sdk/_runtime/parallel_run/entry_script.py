"""``from azureml_user.parallel_run import EntryScript`` inside a ParallelRunStep's workers.

On Azure the module exists only on the compute; here each worker process registers this module
as ``azureml_user.parallel_run`` before it imports the entry script. ``EntryScript()`` gives the
worker's logger (``logs/user/entry_script_log/<node>/<process>.log.txt``, also collected with the
run's files), its log folder, the working directory and the output folder.
"""
from __future__ import annotations

import logging
import os
import sys
import types
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WorkerIdentity:
    node: str            # "node0"
    process: str         # "process000"
    node_id: int
    log_file: str
    output_dir: str | None
    logging_level: str


_current: WorkerIdentity | None = None   # the explicit current context of this worker process


def set_current(identity: WorkerIdentity) -> None:
    global _current
    _current = identity


def install() -> None:
    """Make ``azureml_user.parallel_run`` importable in this process (this module)."""
    package = sys.modules.get("azureml_user")
    if package is None:
        package = types.ModuleType("azureml_user")
        package.__path__ = []   # a package, so the submodule import works
        sys.modules["azureml_user"] = package
    sys.modules["azureml_user.parallel_run"] = sys.modules[__name__]
    package.parallel_run = sys.modules[__name__]


class EntryScript:
    """The entry script's view of its worker: ``logger``, ``log_dir``, ``working_dir``,
    ``output_dir``, ``node_id``, ``process_name``, ``agent_name``."""

    def __init__(self):
        if _current is None:
            raise RuntimeError("EntryScript is available only inside a ParallelRunStep worker")
        self._identity = _current

    @property
    def logger(self) -> logging.Logger:
        ident = self._identity
        logger = logging.getLogger(f"azureml_user.parallel_run.{ident.node}.{ident.process}")
        if not any(getattr(h, "_amlocal_entry", False) for h in logger.handlers):
            Path(ident.log_file).parent.mkdir(parents=True, exist_ok=True)
            handler = logging.FileHandler(ident.log_file, encoding="utf-8")
            handler.setFormatter(logging.Formatter(
                "%(asctime)s|%(levelname)s|%(process)d|%(message)s"))
            handler._amlocal_entry = True
            logger.addHandler(handler)
            logger.setLevel(getattr(logging, ident.logging_level, logging.INFO))
            logger.propagate = False
        return logger

    @property
    def log_dir(self) -> str:
        return str(Path(self._identity.log_file).parent.resolve())

    @property
    def working_dir(self) -> str:
        return os.getcwd()

    @property
    def output_dir(self) -> str | None:
        return self._identity.output_dir

    @property
    def node_id(self) -> int:
        return self._identity.node_id

    @property
    def process_name(self) -> str:
        return self._identity.process

    @property
    def agent_name(self) -> str:
        return f"{self._identity.node}.{self._identity.process}"
