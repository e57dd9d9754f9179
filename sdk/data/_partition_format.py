"""``partition_format``: the columns a dataset reads from its files' paths (Azure's rules).

A format is a path pattern matched against the end of each file's path (its path in the
datastore, with a leading ``/``; for a URL source the URL's path):

- ``{name}`` captures one path part without ``.``, ``/`` or ``\\`` as a string column ``name``;
- ``{name:yyyy/MM/dd/HH/mm/ss}`` captures one datetime column; the date parts are ``yyyy``,
  ``MM``, ``dd``, ``HH``, ``mm`` and ``ss``, ``yyyy`` is required, anything else in the date
  format is literal text; only one date column is allowed;
- ``*`` matches any text (shortest first); ``{{`` and ``}}`` are literal braces.

The columns come in the order of the format, the date column last (as in Azure). A path that
does not match gives None for every column. Invalid formats raise :class:`PartitionFormatError`,
a ValueError as in Azure (and a UserErrorException). Standard library only.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from ..errors import UserErrorException

DATE_PARTS = {"yyyy": 4, "MM": 2, "dd": 2, "HH": 2, "mm": 2, "ss": 2}
_RESERVED = "_sys_"
_TOKEN = re.compile("|".join(DATE_PARTS))


class PartitionFormatError(UserErrorException, ValueError):
    """An invalid ``partition_format``."""


@dataclass(frozen=True)
class PartitionFormat:
    text: str
    pattern: str                        # the regular expression, anchored at the path's end
    columns: tuple[str, ...]            # string columns in order, then the date column
    date_column: str | None
    groups: tuple[tuple[str, str], ...]  # (regex group, column or date part) in the pattern

    def values(self, path: str) -> dict:
        """``{column: value}`` for one file's path (``'/a/b/c.csv'``); None values when the path
        does not match."""
        found = re.search(self.pattern, "/" + path.lstrip("/"))
        if found is None:
            return {column: None for column in self.columns}
        values: dict = {}
        date: dict = {}
        for group, target in self.groups:
            if target.startswith(_RESERVED):
                date[target[len(_RESERVED):]] = int(found.group(group))
            else:
                values[target] = found.group(group)
        if self.date_column is not None:
            try:
                values[self.date_column] = datetime(
                    date["yyyy"], date.get("MM", 1), date.get("dd", 1), date.get("HH", 0),
                    date.get("mm", 0), date.get("ss", 0))
            except ValueError:     # e.g. month 13: no date, as a value that does not convert
                values[self.date_column] = None
        return {column: values.get(column) for column in self.columns}


def parse(text: str) -> PartitionFormat:
    """Parse and check a partition format. Raises PartitionFormatError."""
    if not isinstance(text, str) or not text:
        raise PartitionFormatError(
            f"partition_format must be a non-empty string such as "
            f"'/{{Department}}/{{Day:yyyy/MM/dd}}/*.csv', not {text!r}")
    _check(text)
    pattern: list[str] = []
    columns: list[str] = []
    groups: list[tuple[str, str]] = []
    date_column: str | None = None
    seen_parts: list[str] = []
    i = 0
    while i < len(text):
        two = text[i:i + 2]
        if two in ("{{", "}}"):
            pattern.append(re.escape(two[0]))
            i += 2
            continue
        char = text[i]
        if char == "{":
            close = text.index("}", i)
            name, colon, date_format = text[i + 1:close].partition(":")
            if colon:
                date_column = name
                for token, literal in _date_tokens(date_format):
                    if token is None:
                        pattern.append(re.escape(literal))
                    elif token in seen_parts:
                        pattern.append(rf"\d{{{DATE_PARTS[token]}}}")
                    else:
                        group = f"g{len(groups)}"
                        groups.append((group, _RESERVED + token))
                        seen_parts.append(token)
                        pattern.append(rf"(?P<{group}>\d{{{DATE_PARTS[token]}}})")
            elif name in columns:
                pattern.append(r"[^./\\]+")
            else:
                group = f"g{len(groups)}"
                groups.append((group, name))
                columns.append(name)
                pattern.append(rf"(?P<{group}>[^./\\]+)")
            i = close + 1
            continue
        pattern.append(".*?" if char == "*" else re.escape(char))
        i += 1
    if seen_parts and "yyyy" not in seen_parts:
        _fail(text, "a datetime column needs 'yyyy' (e.g. {Day:yyyy/MM/dd})")
    if date_column is not None:
        columns.append(date_column)
    return PartitionFormat(text, "".join(pattern) + "$", tuple(columns), date_column,
                           tuple(groups))


def _check(text: str) -> None:
    plain = re.sub(r"{{|}}", "", text)
    parts = re.findall(r"{[^{}]*}", plain)
    rest = re.sub(r"{[^{}]*}", "", plain)
    if not parts:
        _fail(text, "there must be at least one {column_name}")
    if "{" in rest or "}" in rest:
        _fail(text, "braces must come in pairs and cannot be nested; write {{ or }} for a "
                    "literal brace")
    dates = 0
    for part in parts:
        name, colon, date_format = part[1:-1].partition(":")
        if not name.strip():
            _fail(text, f"{part} names no column; write {{column_name}}")
        if name.startswith(_RESERVED):
            _fail(text, f"the column name {name!r} is reserved (names starting with "
                        f"{_RESERVED!r}); use another name")
        if colon:
            dates += 1
            if not date_format:
                _fail(text, f"{part} gives no date format; write e.g. {{{name}:yyyy/MM/dd}}")
            if not _TOKEN.search(date_format):
                _fail(text, f"{part} has no date part (yyyy, MM, dd, HH, mm, ss)")
    if dates > 1:
        _fail(text, "there cannot be more than one datetime column")


def _date_tokens(date_format: str):
    """``(token, None)`` for each date part and ``(None, text)`` for literal text."""
    pos = 0
    for found in _TOKEN.finditer(date_format):
        if found.start() > pos:
            yield None, date_format[pos:found.start()]
        yield found.group(0), None
        pos = found.end()
    if pos < len(date_format):
        yield None, date_format[pos:]


def _fail(text: str, why: str):
    raise PartitionFormatError(f'Invalid partition_format "{text}": {why}')
