"""The step's inputs split into mini-batches, and a mini-batch made into what ``run()`` receives.

- FileDataset (mounted; its folder is ``$AZUREML_DATAREFERENCE_<name>``): the files below the
  mount point in path order, ``mini_batch_size`` per mini-batch; ``run()`` gets their local paths.
- TabularDataset (direct; ``AMLOCAL_DATASET_DEFINITION_<name>`` holds its definition, with the
  files bound into the container): each file is one or more mini-batches of about
  ``mini_batch_size`` bytes (``ceil(size / mini_batch_size)`` slices of its rows, never two files
  in one); ``run()`` gets a DataFrame read with the dataset's own reader settings. A dataset with
  ``take``/``skip`` is read as a whole and sliced by its total file size.
- ``partition_keys``: one mini-batch per combination of the keys' values, from the files'
  partition paths (the dataset's ``partition_format``); tables concatenate the group's files.
- ``--rank_mini_batch_count N``: N mini-batches without data (``run([])``).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass

from .settings import FILE, TABULAR, JobSettings, SettingsError

WHOLE = -1        # a unit standing for the whole dataset (one with take/skip transforms)


@dataclass(frozen=True)
class MiniBatch:
    id: int
    input: str = ""                      # the input's name ("" for rank mini-batches)
    files: tuple[str, ...] = ()          # FileDataset: local paths
    units: tuple[int, ...] = ()          # TabularDataset: indexes of the files read (or WHOLE)
    part: int = 0                        # TabularDataset: this slice of the rows ...
    parts: int = 1                       # ... out of so many
    label: str = ""

    @property
    def tabular(self) -> bool:
        return bool(self.units)


def _definition(name: str) -> dict:
    text = os.environ.get(f"AMLOCAL_DATASET_DEFINITION_{name}")
    if not text:
        raise SettingsError(f"input '{name}' is not a direct dataset input of this step "
                            f"(no AMLOCAL_DATASET_DEFINITION_{name}); pass it as "
                            "dataset.as_named_input(name)")
    return json.loads(text)


def dataset(name: str):
    """The input's Dataset, rebuilt from its definition (as ``run.input_datasets`` does)."""
    from amlocal.core.dataset import Dataset
    return Dataset._from_definition(_definition(name))


def _folder_files(name: str) -> list[str]:
    path = os.environ.get(f"AZUREML_DATAREFERENCE_{name}") or os.environ.get(name)
    if not path:
        raise SettingsError(f"input '{name}' is not bound in this step (no "
                            f"AZUREML_DATAREFERENCE_{name})")
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        raise SettingsError(f"input '{name}': {path} does not exist in the step")
    found = []
    for dirpath, dirnames, filenames in os.walk(path, followlinks=True):
        dirnames.sort()
        found += [os.path.join(dirpath, f) for f in sorted(filenames)]
    return found


def _partition_values(ds, match, keys: tuple[str, ...]) -> tuple:
    """The values of ``keys`` for one matched file, from the dataset's partition_format."""
    fmt = ds._partition_format()
    if fmt is None:
        raise SettingsError("partition_keys need partitioned datasets: create the input with "
                            "partition_format='...{key}...' (e.g. '{country}/{state}/*.csv')")
    missing = [k for k in keys if k not in fmt.columns]
    if missing:
        raise SettingsError(f"partition_keys {missing} are not keys of the input's "
                            f"partition_format {fmt.text!r} (keys: {list(fmt.columns)})")
    values = fmt.values(match.relpath)
    return tuple(values[k] for k in keys)


def _groups(ds, res, keys) -> list[tuple[tuple, list[int]]]:
    groups: dict[tuple, list[int]] = {}
    for index, match in enumerate(res.matches):
        groups.setdefault(_partition_values(ds, match, keys), []).append(index)
    return sorted(groups.items(), key=lambda item: tuple(str(v) for v in item[0]))


def _label(keys, values) -> str:
    return ", ".join(f"{k}={v}" for k, v in zip(keys, values))


def plan(settings: JobSettings) -> list[MiniBatch]:
    """Every mini-batch of the job, in order. Raises SettingsError (missing input, bad keys)."""
    if settings.rank_mini_batch_count > 0:
        return [MiniBatch(i, label=f"rank {i}") for i in range(settings.rank_mini_batch_count)]
    batches: list[MiniBatch] = []
    for ref in settings.inputs:
        if ref.kind == FILE:
            batches += _file_batches(ref.name, settings, len(batches))
        elif ref.kind == TABULAR:
            batches += _table_batches(ref.name, settings, len(batches))
    return batches


def _file_batches(name: str, settings: JobSettings, first: int) -> list[MiniBatch]:
    if settings.partition_keys:
        ds = dataset(name)
        res = ds._resolve()
        return [MiniBatch(first + i, name, files=tuple(res.matches[j].path for j in indexes),
                          label=_label(settings.partition_keys, values))
                for i, (values, indexes) in enumerate(_groups(ds, res, settings.partition_keys))]
    files = _folder_files(name)
    size = settings.mini_batch_size or 10
    return [MiniBatch(first + i, name, files=tuple(files[k:k + size]))
            for i, k in enumerate(range(0, len(files), size))]


def _size_of(match) -> int:
    if match.size is not None:
        return int(match.size)
    try:
        return os.path.getsize(match.path)
    except OSError:
        return 0


def _table_batches(name: str, settings: JobSettings, first: int) -> list[MiniBatch]:
    ds = dataset(name)
    res = ds._resolve()
    if settings.partition_keys:
        return [MiniBatch(first + i, name, units=tuple(indexes),
                          label=_label(settings.partition_keys, values))
                for i, (values, indexes) in enumerate(_groups(ds, res, settings.partition_keys))]
    size = settings.mini_batch_size or 1024 * 1024
    if ds._definition.get("transforms"):
        total = sum(_size_of(m) for m in res.matches)
        parts = max(1, math.ceil(total / size))
        return [MiniBatch(first + p, name, units=(WHOLE,), part=p, parts=parts)
                for p in range(parts)]
    batches = []
    for index, match in enumerate(res.matches):
        parts = max(1, math.ceil(_size_of(match) / size))
        batches += [MiniBatch(first + len(batches), name, units=(index,), part=p, parts=parts,
                              label=match.portable) for p in range(parts)]
    return batches


class TableReader:
    """A worker's access to tabular inputs: resolves each dataset once and keeps the frame of
    the file it read last, so the slices of one file cost one read."""

    def __init__(self):
        self._datasets: dict = {}
        self._last: tuple | None = None      # ((input, units), frame)

    def _dataset(self, name: str):
        if name not in self._datasets:
            ds = dataset(name)
            self._datasets[name] = (ds, ds._resolve())
        return self._datasets[name]

    def frame(self, batch: MiniBatch):
        key = (batch.input, batch.units)
        if self._last is None or self._last[0] != key:
            self._last = None                      # free the previous frame first
            self._last = (key, self._read(batch))
        frame = self._last[1]
        if batch.parts == 1:
            return frame
        start = len(frame) * batch.part // batch.parts
        end = len(frame) * (batch.part + 1) // batch.parts
        return frame.iloc[start:end].reset_index(drop=True)

    def _read(self, batch: MiniBatch):
        ds, res = self._dataset(batch.input)
        if batch.units == (WHOLE,):
            return ds.to_pandas_dataframe()
        frames = [_one_file(ds, res, res.matches[i]).to_pandas_dataframe() for i in batch.units]
        if len(frames) == 1:
            return frames[0]
        import pandas as pd
        return pd.concat(frames, ignore_index=True)


def _one_file(ds, res, match):
    """The dataset restricted to one of its files: its own reading code (reader settings,
    include_path, partition columns, column types) applied to that file only."""
    definition = {k: v for k, v in ds._definition.items() if k != "transforms"}
    one = type(ds)(definition, ds._workspace)
    restricted = dataclasses.replace(res, matches=[match])
    one._resolve = lambda: restricted
    return one
