"""MLflow's search syntax for :mod:`amlocal._engine.mlflow_tracking`: ``filter`` strings
(``<entity>.<key> <op> <value>`` clauses joined with AND), ``order_by`` and page tokens, over
the JSON shapes of experiments and runs that module builds.

Only the standard library at module top: the step runtime imports it.
"""
from __future__ import annotations

import re

MAX_RESULTS = 1000


class SearchError(ValueError):
    """A filter, order or page that cannot be read (answered INVALID_PARAMETER_VALUE)."""


def _bad(message: str) -> SearchError:
    return SearchError(message)


def whole_number(args: dict, key: str, default: int | None = None) -> int | None:
    value = args.get(key)
    if value is None or value == "":
        return default
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise _bad(f"parameter '{key}' must be a whole number, not {value!r}") from None


_CLAUSE = re.compile(
    r"""^\s*(?P<entity>[A-Za-z_]+)\.(?P<key>`[^`]+`|"[^"]+"|[\w.\-/]+)\s*"""
    r"""(?P<op>!=|>=|<=|=|>|<|(?:NOT\s+)?I?LIKE)\s*"""
    r"""(?P<value>'[^']*'|"[^"]*"|[-+0-9.eE]+)\s*$""", re.IGNORECASE)
_ENTITIES = {"attribute": "attribute", "attributes": "attribute", "attr": "attribute",
             "run": "attribute", "metric": "metric", "metrics": "metric", "param": "param",
             "params": "param", "parameter": "param", "parameters": "param", "tag": "tag",
             "tags": "tag"}


def parse_filter(text, allowed) -> list[tuple]:
    """``key op value`` clauses joined with AND (MLflow's search syntax, without IN)."""
    if text in (None, ""):
        return []
    if not isinstance(text, str):
        raise _bad("parameter 'filter' must be a string")
    clauses = []
    for part in re.split(r"\s+AND\s+", text.strip(), flags=re.IGNORECASE):
        found = _CLAUSE.match(part)
        entity = _ENTITIES.get(found.group("entity").lower()) if found else None
        if found is None or entity not in allowed:
            raise _bad(f"cannot read the filter clause {part!r}: amlocal reads clauses "
                       f"<{'|'.join(allowed)}>.<key> <op> <value> joined with AND, e.g. "
                       "\"metrics.rmse < 0.8 AND params.alpha = '0.5'\"")
        key = found.group("key").strip('`"')
        value = found.group("value")
        value = value[1:-1] if value[:1] in "'\"" else value
        clauses.append((entity, key, found.group("op").upper().replace("  ", " "), value))
    return clauses


def _compare(actual, op: str, expected: str) -> bool:
    if actual is None:
        return False
    if op.endswith("LIKE"):
        pattern = "^" + re.escape(expected).replace("%", ".*").replace("_", ".") + "$"
        hit = re.match(pattern, str(actual),
                       re.IGNORECASE if "ILIKE" in op else 0) is not None
        return not hit if op.startswith("NOT") else hit
    if isinstance(actual, (int, float)) and not isinstance(actual, bool):
        try:
            expected_value = float(expected)
        except ValueError:
            raise _bad(f"{expected!r} is not a number to compare with") from None
        actual_value = float(actual)
    else:
        actual_value, expected_value = str(actual), expected
    return {"=": actual_value == expected_value, "!=": actual_value != expected_value,
            ">": actual_value > expected_value, ">=": actual_value >= expected_value,
            "<": actual_value < expected_value, "<=": actual_value <= expected_value}[op]


def match_experiment(exp: dict, clause) -> bool:
    entity, key, op, value = clause
    if entity == "tag":
        return _compare({t["key"]: t["value"] for t in exp["tags"]}.get(key), op, value)
    return _compare(exp.get("experiment_id" if key in ("id", "experiment_id") else key), op,
                    value)


def _field(run: dict, entity: str, key: str):
    data = run["data"]
    if entity == "metric":
        return next((m["value"] for m in data["metrics"] if m["key"] == key), None)
    if entity in ("param", "tag"):
        items = data["params" if entity == "param" else "tags"]
        return next((p["value"] for p in items if p["key"] == key), None)
    aliases = {"id": "run_id", "name": "run_name", "created": "start_time",
               "Created": "start_time"}
    return run["info"].get(aliases.get(key, key))


def match_run(run: dict, clause) -> bool:
    entity, key, op, value = clause
    return _compare(_field(run, entity, key), op, value)


def order_runs(runs: list, order: list) -> list:
    runs = sorted(runs, key=lambda r: (r["info"].get("start_time") or 0, r["info"]["run_id"]),
                  reverse=True)
    for item in reversed(order):
        if not isinstance(item, str):
            raise _bad("order_by takes strings such as 'metrics.rmse ASC'")
        words = item.split()
        if not words or len(words) > 2 or (len(words) == 2
                                            and words[1].upper() not in ("ASC", "DESC")):
            raise _bad(f"cannot read order_by {item!r}: use '<entity>.<key> [ASC|DESC]'")
        entity, _, key = words[0].partition(".")
        entity = _ENTITIES.get(entity.lower())
        if entity is None or not key:
            raise _bad(f"cannot read order_by {item!r}: use '<entity>.<key> [ASC|DESC]' with "
                       "attributes, metrics, params or tags")
        key = key.strip('`"')
        descending = len(words) == 2 and words[1].upper() == "DESC"
        present = [r for r in runs if _field(r, entity, key) is not None]
        absent = [r for r in runs if _field(r, entity, key) is None]
        present.sort(key=lambda r: _sort_key(_field(r, entity, key)), reverse=descending)
        runs = present + absent   # runs without the value last, as MLflow orders them
    return runs


def _sort_key(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def page(items: list, args: dict, default: int = MAX_RESULTS) -> tuple[list, str | None]:
    size = whole_number(args, "max_results", default)
    if size is None or size < 1 or size > 50000:
        raise _bad(f"max_results must be between 1 and 50000, not {size}")
    token = args.get("page_token") or "0"
    try:
        start = int(str(token))
        if start < 0:
            raise ValueError
    except ValueError:
        raise _bad(f"page_token {token!r} is not one this server handed out") from None
    page = items[start:start + size]
    return page, (str(start + size) if start + size < len(items) else None)
