"""Evaluating the filter expressions a dataset definition holds (``{"op": ..., "args": [...]}``
nodes, ``{"col": name}``, ``{"value": v}``, ``{"datetime": iso}``; built by
``amlocal.data._expressions``) over a pandas DataFrame: the rows of a TabularDataset, or the
metadata of a FileDataset's files.

pandas is imported only when an expression is evaluated.
"""
from __future__ import annotations

from amlocal.errors import UserErrorException

_COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
_TEXT = ("starts_with", "ends_with", "contains")


def evaluate(node: dict, frame):
    """The boolean pandas Series of ``node`` over ``frame``'s rows (nulls count as False).
    Raises UserErrorException for a column the frame does not have or an invalid node."""
    import pandas as pd
    result = _eval(node, frame, pd)
    if not isinstance(result, pd.Series):
        raise UserErrorException(f"filter expression {node!r} does not read any column")
    return result.fillna(False).astype(bool)


def as_datetimes(pd, values):
    """Text read as datetimes (NaT where it is none), without pandas' format warnings."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return pd.to_datetime(values, errors="coerce")


# -- internals --------------------------------------------------------------------------------
def _eval(node, frame, pd):
    if not isinstance(node, dict):
        raise UserErrorException(f"invalid filter expression part {node!r}")
    if "col" in node:
        name = node["col"]
        if name not in frame.columns:
            raise UserErrorException(
                f"the filter reads column {name!r}, which the data does not have; columns: "
                f"{', '.join(map(str, frame.columns))}")
        return frame[name]
    if "value" in node:
        return node["value"]
    if "datetime" in node:
        return pd.Timestamp(node["datetime"])
    op, args = node.get("op"), node.get("args") or []
    if op in ("and", "or"):
        left, right = (_as_bool(_eval(a, frame, pd), frame, pd) for a in args)
        return (left & right) if op == "and" else (left | right)
    if op == "not":
        return ~_as_bool(_eval(args[0], frame, pd), frame, pd)
    if op == "is_null":
        return _eval(args[0], frame, pd).isna()
    if op == "is_in":
        values = [_eval(v, frame, pd) for v in args[1]]
        return _eval(args[0], frame, pd).isin(values)
    if op in _TEXT:
        series = _eval(args[0], frame, pd).astype("string").str
        text = args[1]["value"]
        found = {"starts_with": series.startswith, "ends_with": series.endswith,
                 "contains": lambda t: series.contains(t, regex=False)}[op](text)
        return found.astype("boolean")
    if op in _COMPARISONS:
        left, right = (_eval(a, frame, pd) for a in args)
        left, right = _align_datetimes(left, right, pd)
        if right is None or left is None:   # == None / != None: a null test
            other = right if left is None else left
            return other.isna() if op == "==" else (~other.isna() if op == "!=" else
                                                     pd.Series(False, index=frame.index))
        try:
            result = {"==": lambda: left == right, "!=": lambda: left != right,
                      "<": lambda: left < right, "<=": lambda: left <= right,
                      ">": lambda: left > right, ">=": lambda: left >= right}[op]()
        except TypeError as exc:
            raise UserErrorException(f"filter {_show(node)} compares values of different types: "
                                     f"{exc}") from exc
        if isinstance(result, pd.Series):
            nulls = left.isna() if isinstance(left, pd.Series) else False
            if isinstance(right, pd.Series):
                nulls = nulls | right.isna()
            return result.astype("boolean").mask(nulls, False) if op != "!=" else result
        return result
    raise UserErrorException(f"unknown filter operation {op!r} in {node!r}")


def _as_bool(value, frame, pd):
    if isinstance(value, pd.Series):
        return value.fillna(False).astype(bool)
    return pd.Series(bool(value), index=frame.index)


def _align_datetimes(left, right, pd):
    """A text column compared with a datetime is read as datetimes."""
    def convert(side, other):
        if isinstance(side, pd.Series) and isinstance(other, pd.Timestamp) \
                and not pd.api.types.is_datetime64_any_dtype(side):
            return as_datetimes(pd, side)
        if isinstance(side, pd.Series) and isinstance(other, pd.Timestamp) \
                and getattr(side.dt, "tz", None) is not None and other.tzinfo is None:
            return side.dt.tz_localize(None)
        return side
    return convert(left, right), convert(right, left)


def _show(node) -> str:
    if "col" in node:
        return f"[{node['col']!r}]"
    if "value" in node or "datetime" in node:
        return repr(node.get("value", node.get("datetime")))
    parts = (_show(a) for a in node.get("args", []) if isinstance(a, dict))
    return f"({' {} '.format(node.get('op')).join(parts)})"
