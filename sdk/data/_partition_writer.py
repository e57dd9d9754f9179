"""``TabularDataset.partition_by``: rows written as partitioned Parquet to a datastore.

The layout is Azure's: ``<target>/<guid>/<k1>/<k2>/*.parquet``, datetime keys written as
``yyyyMMddHHmmss``, and the returned dataset's ``partition_format`` is
``/<target>/<guid>/{k1}/{k2:yyyyMMddHHmmss}*/*.parquet``. pandas and pyarrow are imported when
it runs.
"""
from __future__ import annotations

import re
import tempfile
import uuid
from pathlib import Path

from ..errors import UserErrorException

_SEGMENT = re.compile(r"^[^./\\]+$")
FILE_NAME = "part-00000.parquet"


def write_partitions(dataset, partition_keys, target, name, show_progress: bool,
                     as_file_dataset: bool):
    """See ``TabularDataset.partition_by``."""
    import pandas as pd
    from ._dataset_sources import _target
    from .abstract_dataset import Dataset
    say = print if show_progress else (lambda *_args: None)
    say("Validating arguments.")
    if isinstance(partition_keys, str) or not isinstance(partition_keys, (list, tuple)):
        raise UserErrorException(
            f"partition_keys must be a list of column names such as ['country'], not "
            f"{partition_keys!r}")
    keys = list(partition_keys)
    if not keys:
        raise UserErrorException("partition_keys cannot be empty; name the columns to partition "
                                 "by, e.g. partition_keys=['country']")
    datastore, folder = _target(target)
    frame = dataset.to_pandas_dataframe()
    invalid = [k for k in keys if k not in frame.columns]
    if invalid:
        raise UserErrorException(
            f"{invalid} are invalid partition keys; the dataset's columns are "
            f"{[str(c) for c in frame.columns]}")
    if len(set(keys)) != len(keys):
        raise UserErrorException(f"partition_keys cannot have duplicates: {keys}")
    if frame.empty:
        raise UserErrorException("the dataset has no rows, so there is nothing to partition")
    dates = {k for k in keys if pd.api.types.is_datetime64_any_dtype(frame[k])}
    types = {k: str(frame[k].dtype) for k in keys
             if k not in dates and frame[k].dtype != object and str(frame[k].dtype) != "string"}
    types = {k: "boolean" if t == "bool" else t for k, t in types.items()}
    say("Arguments validated.")

    base = "/".join(p for p in (folder, str(uuid.uuid4())) if p)
    with tempfile.TemporaryDirectory(prefix="amlocal-partition-") as tmp:
        files = []
        for values, part in frame.groupby(keys, dropna=False, sort=True):
            values = values if isinstance(values, tuple) else (values,)
            segments = [_segment(pd, key, value, key in dates) for key, value in zip(keys, values)]
            where = Path(tmp, *segments)
            where.mkdir(parents=True, exist_ok=True)
            part.drop(columns=keys).reset_index(drop=True).to_parquet(where / FILE_NAME,
                                                                       index=False)
            files.append(str(where / FILE_NAME))
        say(f"Uploading file to /{base}/")
        datastore.upload_files(files, relative_root=tmp, target_path=base, overwrite=False,
                               show_progress=show_progress)
    say("Successfully uploaded file to datastore.")

    say("Creating a new dataset.")
    path = (datastore, base + "/" + "*/" * len(keys) + "*.parquet")
    parts = ["{%s:yyyyMMddHHmmss}*" % k if k in dates else "{%s}" % k for k in keys]
    partition_format = f"/{base}/{'/'.join(parts)}/*.parquet"
    if as_file_dataset:
        result = Dataset.File.from_files(path, partition_format=partition_format)
    else:
        result = Dataset.Tabular.from_parquet_files(
            path, partition_format=partition_format, set_column_types=types)
    say("Successfully created a new dataset.")
    if name is None:
        return result
    say("registering a new dataset.")
    return result.register(datastore.workspace, name, create_new_version=True)


def _segment(pd, key: str, value, is_date: bool) -> str:
    """The folder name for one key value. Raises UserErrorException when it cannot be one."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        raise UserErrorException(
            f"partition key {key!r} has empty (null) values, which cannot name a folder; fill "
            "or drop them first")
    text = value.strftime("%Y%m%d%H%M%S") if is_date else str(value)
    if not _SEGMENT.match(text):
        raise UserErrorException(
            f"partition key {key!r} has the value {text!r}, which cannot name a partition folder "
            "(values must be non-empty and contain no '.', '/' or '\\'); partition by another "
            "column, or derive one (e.g. round floats to integers)")
    return text
