"""The driver's command line (the argv a ParallelRunStep generates, Azure's) as JobSettings."""
from __future__ import annotations

import argparse
import json
import os
import re
from dataclasses import dataclass

DEFAULT_APPEND_ROW_FILE_NAME = "parallel_run_step.txt"
FILE, TABULAR = "file", "tabular"
_SIZE = re.compile(r"^\d+([kKmMgG][bB])*$")
_UNITS = {"kb": 1024, "mb": 1024 ** 2, "gb": 1024 ** 3}
_INPUT = re.compile(r"^--input(_ds_|_fds_)?(\d+)$")


class SettingsError(ValueError):
    """The driver's arguments cannot work (a bad pipeline-parameter value, a missing input)."""


@dataclass(frozen=True)
class InputRef:
    name: str
    kind: str                      # FILE or TABULAR


@dataclass(frozen=True)
class JobSettings:
    entry_script: str
    mini_batch_size: int | None    # files (FileDataset) or bytes (TabularDataset)
    error_threshold: int
    allowed_failed_count: int | None
    allowed_failed_percent: float | None
    output_action: str             # "append_row" | "summary_only"
    append_row_file_name: str
    output: str | None
    logging_level: str
    run_invocation_timeout: int
    run_max_try: int
    process_count_per_node: int
    node_count: int
    partition_keys: tuple[str, ...] | None
    inputs: tuple[InputRef, ...]
    rank_mini_batch_count: int

    @property
    def append_row(self) -> bool:
        return self.output_action == "append_row"


def _size(text: str) -> int:
    text = text.strip()
    if not _SIZE.match(text):
        raise SettingsError(rf"mini_batch_size {text!r} must follow ^\d+([kKmMgG][bB])*$ "
                            "(e.g. 10, '10KB', '1MB')")
    return int(text) if text.isdigit() else int(text[:-2]) * _UNITS[text[-2:].lower()]


def _positive(name: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise SettingsError(f"{name} {text!r} is not a whole number") from None
    if value < 1:
        raise SettingsError(f"{name} must be 1 or more, not {value}")
    return value


def cpu_count() -> int:
    """The CPUs this process may use (the container's share): its CPU affinity, lowered to the
    container's CPU quota (cgroup v2 ``cpu.max`` or v1 ``cpu.cfs_quota_us``, rounded up) when
    it has one, e.g. the ``num_cpus`` a step on a Ray cluster asked for."""
    try:
        cpus = max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        cpus = max(1, os.cpu_count() or 1)
    quota = _cpu_quota()
    return max(1, min(cpus, quota)) if quota else cpus


def _cpu_quota() -> int | None:
    """The cgroup's CPU quota in whole CPUs (rounded up), or None when it has none."""
    def read(path: str) -> str | None:
        try:
            with open(path, encoding="ascii") as f:
                return f.read().strip()
        except (OSError, ValueError):
            return None
    v2 = read("/sys/fs/cgroup/cpu.max")
    fields = v2.split() if v2 else [read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
                                    read("/sys/fs/cgroup/cpu/cpu.cfs_period_us")]
    try:
        quota, period = int(fields[0]), int(fields[1])
    except (TypeError, ValueError, IndexError):
        return None                 # "max", -1 or unreadable: no quota
    if quota <= 0 or period <= 0:
        return None
    return -(-quota // period)


def parse(argv: list[str]) -> JobSettings:
    """JobSettings from the driver's argv. Raises SettingsError."""
    p = argparse.ArgumentParser(prog="parallel_run", add_help=False)
    p.add_argument("--client_sdk_version")
    p.add_argument("--scoring_module_name", required=True)
    p.add_argument("--mini_batch_size")
    p.add_argument("--error_threshold", type=int, default=-1)
    p.add_argument("--allowed_failed_count", type=int)
    p.add_argument("--allowed_failed_percent", type=float)
    p.add_argument("--output_action", default="append_row")
    p.add_argument("--append_row_file_name")
    p.add_argument("--output")
    p.add_argument("--logging_level", default="INFO")
    p.add_argument("--run_invocation_timeout", default="60")
    p.add_argument("--run_max_try", default="3")
    p.add_argument("--process_count_per_node")
    p.add_argument("--partition_keys")
    p.add_argument("--amlocal_node_count", default="1")
    p.add_argument("--create_snapshot_at_runtime")
    p.add_argument("--rank_mini_batch_count", type=int, default=0)
    try:
        args, rest = p.parse_known_args(argv)
    except SystemExit as exc:  # argparse's own message went to stderr
        raise SettingsError(f"the driver's arguments are not valid ({exc})") from None
    inputs = []
    for i, item in enumerate(rest):
        m = _INPUT.match(item)
        if m and i + 1 < len(rest):
            kind = TABULAR if m.group(1) == "_ds_" else FILE
            inputs.append((int(m.group(2)), InputRef(rest[i + 1], kind)))
    action = args.output_action.lower()
    if action not in ("append_row", "summary_only"):
        raise SettingsError(f"output_action {args.output_action!r} must be append_row or "
                            "summary_only")
    keys = None
    if args.partition_keys:
        try:
            keys = json.loads(args.partition_keys)
        except ValueError:
            raise SettingsError(f"partition_keys {args.partition_keys!r} is not a JSON list of "
                                "str") from None
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys) or not keys:
            raise SettingsError(f"partition_keys {args.partition_keys!r} is not a JSON list of str")
        keys = tuple(keys)
    processes = (_positive("process_count_per_node", args.process_count_per_node)
                 if args.process_count_per_node not in (None, "None") else cpu_count())
    size = (_size(args.mini_batch_size) if args.mini_batch_size not in (None, "None") else None)
    if size is not None and size < 1:
        raise SettingsError("mini_batch_size must be 1 or more")
    return JobSettings(
        entry_script=args.scoring_module_name, mini_batch_size=size,
        error_threshold=args.error_threshold, allowed_failed_count=args.allowed_failed_count,
        allowed_failed_percent=args.allowed_failed_percent, output_action=action,
        append_row_file_name=args.append_row_file_name or DEFAULT_APPEND_ROW_FILE_NAME,
        output=args.output, logging_level=args.logging_level.upper(),
        run_invocation_timeout=_positive("run_invocation_timeout", args.run_invocation_timeout),
        run_max_try=_positive("run_max_try", args.run_max_try),
        process_count_per_node=processes,
        node_count=_positive("node_count", args.amlocal_node_count),
        partition_keys=keys, inputs=tuple(ref for _, ref in sorted(inputs, key=lambda x: x[0])),
        rank_mini_batch_count=max(0, args.rank_mini_batch_count))
