"""The paths inside a step and the bind mount record: plain data the layers hand each other
(datastores bind a dataset as mounts, the execution layer adds its own, a compute backend makes
them real). Imports nothing of amlocal."""
from __future__ import annotations

from dataclasses import dataclass

# Paths inside a step's container. The local backend maps them onto host folders.
CONTAINER_ROOT = "/amlocal"
WORKDIR = "/amlocal/wd"            # the step's snapshot copy, read-write; the working directory
RUNTIME_DIR = "/amlocal/runtime"   # the amlocal runtime, read-only, first on PYTHONPATH
SERVICE_DIR = "/amlocal/service"   # folder holding the run service's Unix socket


@dataclass(frozen=True)
class Mount:
    source: str           # host path
    target: str           # path inside the step (under CONTAINER_ROOT)
    read_only: bool = True
