"""Checks of what a step sends to the run service: identifiers, names, paths, versions.

A step is untrusted code, so the host side checks every identifier and path it receives before
anything reaches the store or the file system. Each check returns the value to use (normalised
where there is a normal form) or raises :class:`amlocal.errors.UserErrorException` naming the
problem and the form expected; the run service answers that with HTTP 400.

The name rules are Azure's (models: ``^[a-zA-Z0-9][a-zA-Z0-9\\-\\._]{0,254}$``; experiments:
``^[a-zA-Z0-9][\\w\\-]{0,254}$``; datasets: 1-250 characters without ``/``). Run ids are what
amlocal and Azure make: a uuid, ``<experiment>_<unix time>_<hex>``, or an Azure-style id such as
``HD_<uuid>_3``: letters, digits, ``_``, ``-`` and ``.``, never ``..`` and never ``/``.
"""
from __future__ import annotations

import json
import re

from ..errors import UserErrorException
from ..store.entities import MetricRecord
from ..store.files import safe_relpath
from ._metric_wire import FIELDS, METRIC_COLUMNS

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,255}$", re.ASCII)
_MODEL_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-\._]{0,254}$", re.ASCII)
_EXPERIMENT_NAME = re.compile(r"^[a-zA-Z0-9][\w\-]{0,254}$", re.ASCII)
_DATASTORE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,254}$", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
RESERVED_ENVIRONMENT_PREFIXES = ("Microsoft", "AzureML")
METRIC_KINDS = frozenset({"scalar", "list", "row", "table", "image"})
MAX_ARTIFACT_NAME = 1024
MAX_JSON_FIELD = 1 << 20
_INT64 = 1 << 63


def text(value, what: str) -> str:
    if not isinstance(value, str):
        raise UserErrorException(f"{what} must be a string, not {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UserErrorException(f"{what} {value!r} is not valid UTF-8 text") from None
    return value


def run_id(value, what: str = "run id") -> str:
    """A run id: a uuid, ``<experiment>_<unix time>_<hex>`` or an Azure-style id."""
    text(value, what)
    if not _RUN_ID.match(value) or ".." in value:
        raise UserErrorException(
            f"{what} {value!r} is not valid: a run id is 1-256 letters, digits, '_', '-' or '.' "
            "starting with a letter or digit, without '..' or '/' (e.g. a uuid, or "
            "'<experiment>_<unix time>_<hex>')")
    return value


def optional_run_id(value, what: str = "run id") -> str | None:
    return None if value is None else run_id(value, what)


def artifact_name(value) -> str:
    """A run's file name: relative, inside the run (no ``..``, not absolute), no control
    characters; returned normalised (``a/./b`` is ``a/b``)."""
    text(value, "artifact name")
    if _CONTROL.search(value) or len(value) > MAX_ARTIFACT_NAME:
        raise UserErrorException(
            f"artifact name {value!r} is not valid: use at most {MAX_ARTIFACT_NAME} characters "
            "without control characters, such as 'outputs/model.pkl'")
    normal = safe_relpath(value)
    if normal == ".":
        raise UserErrorException(f"artifact name {value!r} names no file; use a path such as "
                                 "'outputs/model.pkl'")
    return normal


def model_name(value) -> str:
    text(value, "model name")
    if not _MODEL_NAME.match(value):
        raise UserErrorException(
            f"model name {value!r} is not valid: 1-255 letters, digits, '-', '.' or '_', "
            "starting with a letter or digit (e.g. 'sklearn-mnist')")
    return value


def experiment_name(value) -> str:
    text(value, "experiment name")
    if not _EXPERIMENT_NAME.match(value):
        raise UserErrorException(
            f"experiment name {value!r} is not valid: 1-255 letters, digits, '_' or '-', "
            "starting with a letter or digit")
    return value


def datastore_name(value) -> str:
    text(value, "datastore name")
    if not _DATASTORE_NAME.match(value):
        raise UserErrorException(
            f"datastore name {value!r} is not valid: letters, digits and '_', starting with a "
            "letter (e.g. 'training_data')")
    return value


def dataset_name(value) -> str:
    text(value, "dataset name")
    if not value.strip() or value != value.strip() or len(value) > 250 or "/" in value \
            or _CONTROL.search(value):
        raise UserErrorException(
            f"dataset name {value!r} is not valid: give 1-250 characters without '/', control "
            "characters and leading or trailing spaces, e.g. 'training_data'")
    return value


def environment_name(value, *, registering: bool = False) -> str:
    text(value, "environment name")
    if not value.strip() or value != value.strip() or len(value) > 255 or "/" in value \
            or _CONTROL.search(value):
        raise UserErrorException(
            f"environment name {value!r} is not valid: give 1-255 characters without '/', "
            "control characters and leading or trailing spaces, e.g. 'my-env'")
    if registering and value.startswith(RESERVED_ENVIRONMENT_PREFIXES):
        raise UserErrorException(
            f"environment name {value!r} starts with a prefix reserved for curated environments "
            f"({', '.join(RESERVED_ENVIRONMENT_PREFIXES)}); register it under another name")
    return value


def version(value, what: str = "version") -> int | None:
    """None (the latest) or a whole number >= 1 (digits in a string are accepted)."""
    if value is None:
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise UserErrorException(f"{what} {value!r} is not valid: give a whole number from 1 "
                                 "(or nothing for the latest)")
    return value


def plain_json(value, what: str, *, kind: type | tuple = dict, limit: int = MAX_JSON_FIELD):
    """Plain JSON data of the given type, at most ``limit`` bytes once encoded."""
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise UserErrorException(f"{what} must be a {names}, not {type(value).__name__}")
    try:
        size = len(json.dumps(value).encode("utf-8"))
    except (TypeError, ValueError, UnicodeEncodeError, RecursionError) as exc:
        raise UserErrorException(f"{what} is not plain JSON data: {exc}") from None
    if size > limit:
        raise UserErrorException(f"{what} is {size} bytes once encoded; the limit is {limit}")
    return value


def string_map(value, what: str, *, allow_none: bool = True) -> dict:
    """A dict of str keys to str (or None) values: tags and properties."""
    plain_json(value, what)
    for key, item in value.items():
        text(key, f"a key of {what}")
        if item is None and allow_none:
            continue
        if not isinstance(item, (str, int, float, bool)):
            raise UserErrorException(f"{what}[{key!r}] must be text, not {type(item).__name__}")
    return value


def string_list(value, what: str) -> list:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UserErrorException(f"{what} must be a list of strings")
    return value


def metric_records(value) -> list:
    """``value`` when it is a list of valid metric records. Each distinct name is checked once,
    so a batch of 10,000 values of one metric costs one name check."""
    if not isinstance(value, list):
        raise UserErrorException("records must be a list of metric records")
    names: set = set()
    for record in value:
        if not isinstance(record, MetricRecord):
            raise UserErrorException(f"records must hold metric records, not "
                                     f"{type(record).__name__}")
        if record.name not in names:
            metric_name(record.name)
            names.add(record.name)
        if record.kind not in METRIC_KINDS:
            raise UserErrorException(f"metric kind {record.kind!r} is not one of "
                                     f"{', '.join(sorted(METRIC_KINDS))}")
        step = record.step
        if step is not None and (type(step) is not int or not -_INT64 <= step < _INT64):
            if isinstance(step, bool) or not isinstance(step, int) \
                    or not -_INT64 <= step < _INT64:
                raise UserErrorException(f"the step of metric {record.name!r} must be a whole "
                                         "number of 64 bits")
        created = record.created_at
        if type(created) is not str or len(created) > 32 or not created.isascii():
            raise UserErrorException(f"a metric's created_at must be an ISO-8601 time of at most "
                                     f"32 characters such as '2024-01-31T12:00:00.000000Z', not "
                                     f"{created!r}")
    return value


def metric_name(value) -> str:
    text(value, "metric name")
    if not value or len(value) > 255 or _CONTROL.search(value):
        raise UserErrorException(f"metric name {value!r} is not valid: 1-255 "
                                 "characters without control characters")
    return value


def metric_columns(value) -> list:
    """Metric records a step sent as columns (``{"__metric_columns__": {field: [...]}}``, see
    :mod:`._metric_wire`), as a list of records: the columns must be lists of one length.
    The records themselves are checked by :func:`metric_records`."""
    columns = value.get(METRIC_COLUMNS) if isinstance(value, dict) else None
    if not isinstance(columns, dict) or set(columns) != set(FIELDS) or not all(
            isinstance(columns[f], list) for f in FIELDS):
        raise UserErrorException(f"records must be metric columns: an object "
                                 f"{{{METRIC_COLUMNS!r}: {{field: [...]}}}} with the lists "
                                 f"{', '.join(FIELDS)}")
    if len({len(columns[f]) for f in FIELDS}) != 1:
        raise UserErrorException("the metric columns must all have the same length")
    return list(map(MetricRecord, *(columns[f] for f in FIELDS)))


def timestamp(value, what: str) -> str | None:
    if value is None:
        return None
    from ..store.entities import parse_utc
    text(value, what)
    if len(value) > 64 or parse_utc(value) is None:
        raise UserErrorException(f"{what} {value!r} is not an ISO-8601 time such as "
                                 "'2024-01-31T12:00:00.000000Z'")
    return value
