"""Timestamp columns of a TabularDataset (``with_timestamp_columns``) and the ``time_*`` filters,
as Azure's: the bounds are cut to whole seconds (the lower one floored, the upper one rounded to
the nearest second), rows whose timestamp is null are dropped, and the partition timestamp
column, when defined, is filtered with the same bounds as the timestamp column.
"""
from __future__ import annotations

import datetime as _dt

from amlocal.datastores.expressions import as_datetimes as _as_datetimes

from ..errors import UserErrorException

KEY = "timestamp_columns"


def timestamp_columns(definition: dict) -> tuple:
    """``(timestamp, partition_timestamp)`` of a definition (None where undefined)."""
    spec = definition.get(KEY) or {}
    return spec.get("timestamp"), spec.get("partition_timestamp")


def with_columns(definition: dict, timestamp, partition_timestamp) -> dict:
    """A copy of ``definition`` with these timestamp columns (both None: cleared)."""
    import copy
    for name, value in (("timestamp", timestamp), ("partition_timestamp", partition_timestamp)):
        if value is not None and (not isinstance(value, str) or not value):
            raise UserErrorException(f"{name} must be a column name or None, not {value!r}")
    if not timestamp and partition_timestamp:
        raise UserErrorException("partition_timestamp can be assigned only if timestamp is "
                                 "assigned.")
    if timestamp and timestamp == partition_timestamp:
        raise UserErrorException("partition_timestamp cannot be the same as timestamp.")
    result = copy.deepcopy(definition)
    result.pop(KEY, None)
    if timestamp:
        result[KEY] = {"timestamp": timestamp, "partition_timestamp": partition_timestamp or None}
    return result


def check_columns_exist(dataset, columns) -> None:
    """Raise UserErrorException when a column is missing or holds no datetimes (read from the
    first rows)."""
    import pandas as pd
    columns = [c for c in columns if c]
    frame = dataset.take(1000).to_pandas_dataframe()
    for name in columns:
        if name not in frame.columns:
            raise UserErrorException(
                f"timestamp column {name!r} is not in the dataset; columns: "
                f"{', '.join(map(str, frame.columns))}")
        values = frame[name]
        if not pd.api.types.is_datetime64_any_dtype(values) and len(values.dropna()) \
                and _as_datetimes(pd, values).isna().all():
            raise UserErrorException(
                f"timestamp column {name!r} holds no datetimes; read it as one with "
                f"set_column_types={{'{name}': DataType.to_datetime()}}")


def time_filter(definition: dict, method: str, lower=None, upper=None,
                include_boundary: bool = True):
    """The filter expression of a ``time_*`` method. Raises UserErrorException (as Azure's
    DatasetTimestampMissingError) when the dataset has no timestamp column."""
    from ._expressions import column
    fine, coarse = timestamp_columns(definition)
    if not fine:
        raise UserErrorException(
            f"Cannot perform time-series filter `{method}` on dataset without timestamp columns "
            "defined.\nPlease use `with_timestamp_columns` to enable time-series capabilities")
    for name, bound in (("lower bound", lower), ("upper bound", upper)):
        if bound is not None and not isinstance(bound, _dt.datetime):
            raise UserErrorException(f"the {name} must be a datetime.datetime, not {bound!r}")
    if lower is not None:
        lower = lower.replace(microsecond=0)
    if upper is not None:
        if upper.microsecond > 500000:
            upper = upper + _dt.timedelta(seconds=1)
        upper = upper.replace(microsecond=0)
    condition = None
    for name in (coarse, fine):
        if not name:
            continue
        col = column(name)
        part = ~col.is_null()
        if lower is not None:
            part = part & ((col >= lower) if include_boundary else (col > lower))
        if upper is not None:
            part = part & ((col <= upper) if include_boundary else (col < upper))
        condition = part if condition is None else condition & part
    return condition
