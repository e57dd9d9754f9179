"""Row expressions for ``TabularDataset.filter`` and ``FileDataset.filter``.

``dataset['col'] > 5``, ``(dataset['a'] == 'x') & ~dataset['b'].is_null()``,
``dataset['name'].starts_with('img')``, ``file_dataset.file_metadata('Size') > 1000``: the
common comparison and boolean expressions of Azure's dataprep expressions, kept as plain JSON
(``Expression.to_json()``) so a filtered dataset's definition survives being passed to a step,
and evaluated over a pandas DataFrame when the data is read (by
:mod:`amlocal.datastores.expressions`, which the step's data binding uses too).

Supported: ``== != < <= > >=`` between a column and a value (numbers, text, bools, None,
``datetime``/``date``) or another column; ``&``, ``|``, ``~``; ``starts_with``, ``ends_with``,
``contains``, ``is_null``, ``is_in``. Comparing a text column with a datetime reads the text as
datetimes. A missing column raises when the data is read, naming it. Python's ``and``/``or``/
``not`` cannot combine expressions (use ``&``, ``|``, ``~``): they raise.
"""
from __future__ import annotations

import datetime as _dt

from ..errors import UserErrorException


class Expression:
    """A condition on a dataset's rows (or a FileDataset's files); see the module docstring."""

    def __init__(self, node: dict):
        self._node = node

    # comparisons
    def __eq__(self, other):  # type: ignore[override]
        return self._compare("==", other)

    def __ne__(self, other):  # type: ignore[override]
        return self._compare("!=", other)

    def __lt__(self, other):
        return self._compare("<", other)

    def __le__(self, other):
        return self._compare("<=", other)

    def __gt__(self, other):
        return self._compare(">", other)

    def __ge__(self, other):
        return self._compare(">=", other)

    # boolean combinations
    def __and__(self, other):
        return Expression({"op": "and", "args": [self._node, _operand(other, "&")]})

    def __or__(self, other):
        return Expression({"op": "or", "args": [self._node, _operand(other, "|")]})

    def __invert__(self):
        return Expression({"op": "not", "args": [self._node]})

    def __bool__(self):
        raise UserErrorException(
            "a dataset expression has no truth value here: combine expressions with & | ~ "
            "(with parentheses), not with and/or/not, e.g. (ds['a'] > 1) & (ds['b'] == 'x')")

    __hash__ = None  # type: ignore[assignment]

    # functions
    def starts_with(self, value: str) -> "Expression":
        return self._text("starts_with", value)

    def ends_with(self, value: str) -> "Expression":
        return self._text("ends_with", value)

    def contains(self, value: str) -> "Expression":
        return self._text("contains", value)

    def is_null(self) -> "Expression":
        return Expression({"op": "is_null", "args": [self._node]})

    def is_in(self, values) -> "Expression":
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise UserErrorException("is_in(values) needs a list of values, e.g. ['a', 'b']")
        return Expression({"op": "is_in", "args": [self._node, [_literal(v) for v in values]]})

    def to_json(self) -> dict:
        """The expression as plain JSON data."""
        return self._node

    def _compare(self, op: str, other):
        return Expression({"op": op, "args": [self._node, _value_or_column(other)]})

    def _text(self, op: str, value):
        if not isinstance(value, str):
            raise UserErrorException(f"{op}(value) needs a string, not {value!r}")
        return Expression({"op": op, "args": [self._node, {"value": value}]})

    def __repr__(self) -> str:
        return f"Expression({self._node!r})"


def column(name: str) -> Expression:
    """The expression reading column ``name``."""
    if not isinstance(name, str) or not name:
        raise UserErrorException(f"a column is named by a non-empty string, not {name!r}")
    return Expression({"col": name})


def expression_node(expression) -> dict:
    """The JSON of ``expression`` for a definition. Raises UserErrorException for anything that
    is not a condition (a bare column or value)."""
    if not isinstance(expression, Expression) or "op" not in expression._node:
        raise UserErrorException(
            f"filter needs a condition such as dataset['col'] > 5 or "
            f"dataset['name'].starts_with('a'), not {expression!r}")
    return expression._node


def columns_of(node) -> set[str]:
    """The columns an expression node reads."""
    if isinstance(node, dict):
        if "col" in node:
            return {node["col"]}
        return set().union(*(columns_of(a) for a in node.get("args", [])))
    if isinstance(node, list):
        return set().union(*(columns_of(a) for a in node))
    return set()


def _operand(other, symbol: str) -> dict:
    if not isinstance(other, Expression):
        raise UserErrorException(f"'{symbol}' combines two expressions, not {other!r}")
    return other._node


def _value_or_column(other) -> dict:
    return other._node if isinstance(other, Expression) else _literal(other)


def _literal(value) -> dict:
    if isinstance(value, _dt.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, _dt.date):
        return {"datetime": _dt.datetime(value.year, value.month, value.day).isoformat()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"value": value}
    raise UserErrorException(
        f"{value!r} cannot be compared in a dataset expression: use a number, a string, a bool, "
        "None, a datetime or another column")
