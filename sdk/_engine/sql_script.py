"""The script of an Apply SQL Transformation step, read without running it: split into its
statements, the statement whose rows are the step's output found, and checked with SQLite on
the host before any container starts. Both the step (host) and its runtime (inside the step's
container, :mod:`amlocal._runtime.apply_sql`) read the script through :func:`parse_script`, so
they agree on the statements. Only the standard library is imported.

- **Statements.** A script is SQLite statements separated by ``;`` (the last one needs none).
  A ``;`` inside a string, a quoted name, a comment or a ``CREATE TRIGGER ... BEGIN ... END``
  body does not end a statement (``sqlite3.complete_statement`` decides). Empty statements and
  comments alone are skipped.
- **The output statement.** The last statement that returns a query's rows: one starting with
  ``SELECT`` or ``VALUES``, or a ``WITH ...`` whose main statement is a ``SELECT``/``VALUES``
  (a ``WITH ... INSERT`` is not). ``PRAGMA``, ``EXPLAIN`` and ``... RETURNING`` also return
  rows but are not queries of the tables: they run, and their rows are discarded. A script
  without such a statement is refused (:class:`SqlScriptError`). Statements after it still run.
- **Host checks** (:func:`check_script`): every statement is compiled (``EXPLAIN``, nothing
  runs) in an empty in-memory database where the connected inputs exist; a syntax error, an
  ``ATTACH``/``DETACH`` or a reference to an input that is not connected (``no such table: t2``
  while the script creates no ``t2``) is refused naming the statement. Other errors (a missing
  column: the host does not know the inputs' columns) are left to the run.
"""
from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

PORTS = ("t1", "t2", "t3")
QUERY = "query"           # the kind of a statement whose rows can be the output
_SHOWN = 160              # characters of a statement shown in a message


class SqlScriptError(ValueError):
    """A script that cannot run: no statement, no SELECT, a syntax error, a refused statement,
    or (at run time) a statement SQLite fails. The message names the statement and the fix."""


@dataclass(frozen=True)
class Statement:
    """One statement of the script: ``number`` (1-based), ``line`` (where it starts in the
    script), its ``text`` (without the closing ``;``) and ``kind`` (:data:`QUERY`, or its
    first keyword in lower case: ``create``, ``insert``, ``pragma`` ...)."""

    number: int
    line: int
    text: str
    kind: str

    def shown(self) -> str:
        """The statement on one line, cut to a readable length."""
        text = " ".join(self.text.split())
        return text if len(text) <= _SHOWN else text[:_SHOWN - 3] + "..."


@dataclass(frozen=True)
class SqlScript:
    """The statements of a script and the index (0-based) of the one whose rows are output."""

    text: str
    statements: tuple
    output: int

    def where(self, statement: Statement) -> str:
        return (f"statement {statement.number} of {len(self.statements)} (line "
                f"{statement.line}: {statement.shown()})")


# -- tokens --------------------------------------------------------------------------------------
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_CLOSE = {"'": "'", '"': '"', "`": "`", "[": "]"}


def _tokens(text: str):
    """``(position, token)`` of the words and punctuation of ``text``: comments are skipped;
    a string or a quoted name is one token (its text with the quotes)."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif c in _CLOSE:
            close, j = _CLOSE[c], i + 1
            while j < n:
                if text[j] == close:
                    if close != "]" and text.startswith(close * 2, j):
                        j += 2          # a doubled quote inside the string
                        continue
                    break
                j += 1
            yield i, text[i:j + 1]
            i = j + 1
        else:
            word = _WORD.match(text, i)
            if word:
                yield i, word.group()
                i = word.end()
            else:
                yield i, c
                i += 1


def _kind(tokens: list[str]) -> str:
    """:data:`QUERY` for a statement that returns a query's rows, else its first keyword."""
    words = [t.upper() for t in tokens]
    first = words[0] if words else ""
    if first in ("SELECT", "VALUES"):
        return QUERY
    if first == "WITH":
        depth = 0
        for word in words[1:]:
            if word == "(":
                depth += 1
            elif word == ")":
                depth -= 1
            elif depth == 0 and word in ("SELECT", "VALUES"):
                return QUERY
            elif depth == 0 and word in ("INSERT", "UPDATE", "DELETE", "REPLACE"):
                return word.lower()
    return first.lower()


def split_script(text: str) -> tuple:
    """The statements of ``text`` (see the module docstring)."""
    statements: list[Statement] = []
    start, current = 0, []

    def close(end: int) -> None:
        if current:
            first = current[0][0]
            statements.append(Statement(len(statements) + 1, text.count("\n", 0, first) + 1,
                                        text[first:end].strip(), _kind([t for _, t in current])))

    for position, token in _tokens(text):
        if token == ";" and sqlite3.complete_statement(text[start:position + 1]):
            close(position)
            start, current = position + 1, []
        else:
            current.append((position, token))
    close(len(text))
    return tuple(statements)


def parse_script(text) -> SqlScript:
    """The script's statements and its output statement; SqlScriptError when it has no
    statement or no query."""
    if not isinstance(text, str) or not text.strip():
        raise SqlScriptError("the SQL script is empty; write SQLite statements over t1, t2 and "
                             "t3 ending with the SELECT whose rows are the output, e.g. "
                             "`SELECT * FROM t1;`")
    statements = split_script(text)
    if not statements:
        raise SqlScriptError("the SQL script holds only comments; end it with the SELECT whose "
                             "rows are the output, e.g. `SELECT * FROM t1;`")
    queries = [i for i, s in enumerate(statements) if s.kind == QUERY]
    if not queries:
        kinds = ", ".join(dict.fromkeys(s.kind.upper() for s in statements))
        raise SqlScriptError(
            f"the SQL script has no SELECT statement (it has {kinds}); the rows of its last "
            "SELECT are the step's output: end the script with one, e.g. `SELECT * FROM t1;`")
    return SqlScript(text, statements, queries[-1])


# -- checking with SQLite --------------------------------------------------------------------------
def deny_attach(action, *_args):
    """An SQLite authorizer refusing ATTACH and DETACH (the script's database is in memory and
    holds t1, t2, t3 and what the script makes; no other database is opened)."""
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


ATTACH_REFUSED = ("ATTACH and DETACH are refused: the script works in one in-memory database "
                  "holding t1, t2, t3 and the tables it creates")
_SYNTAX = ("syntax error", "incomplete input", "unrecognized token")
_MISSING = re.compile(r"no such table: (?:main\.)?(t[123])$")


def _created(statement: Statement) -> str | None:
    """The name a ``CREATE [TEMP] TABLE|VIEW [IF NOT EXISTS] [schema.]name`` makes, else None."""
    words = [t.lower().strip('"`[]') for _, t in _tokens(statement.text)][:12]
    if not words or words[0] != "create":
        return None
    for i, word in enumerate(words):
        if word in ("table", "view"):
            rest = words[i + 1:]
            if rest[:3] == ["if", "not", "exists"]:
                rest = rest[3:]
            if len(rest) >= 3 and rest[1] == ".":
                rest = rest[2:]
            return rest[0] if rest else None
    return None


def missing_input_hint(port: str) -> str:
    return (f"the step's input {port} is not connected: pass {port}= to "
            "ApplySqlTransformationStep (or create the table in the script first)")


def check_script(script: SqlScript, connected) -> None:
    """Compile every statement in an empty database holding the ``connected`` ports (as
    one-column views); raise SqlScriptError for a syntax error, ATTACH/DETACH, or a reference
    to an input that is not connected and that the script did not create before."""
    conn = sqlite3.connect(":memory:")
    try:
        for port in connected:
            conn.execute(f'CREATE VIEW "{port}" AS SELECT NULL AS _')
        conn.set_authorizer(deny_attach)
        created: set[str] = set()
        for statement in script.statements:
            created.add(_created(statement))
            explain = statement.kind == "explain"
            try:
                conn.execute(statement.text if explain else f"EXPLAIN {statement.text}")
            except sqlite3.Error as exc:
                message = str(exc)
                missing = _MISSING.search(message)
                port = missing.group(1) if missing else None
                if any(s in message for s in _SYNTAX):
                    raise SqlScriptError(f"{script.where(statement)}: {message}") from None
                if "not authorized" in message and statement.kind in ("attach", "detach"):
                    raise SqlScriptError(f"{script.where(statement)}: {ATTACH_REFUSED}") from None
                if port and port not in connected and port not in created:
                    raise SqlScriptError(f"{script.where(statement)}: {message}; "
                                         f"{missing_input_hint(port)}") from None
    finally:
        conn.close()
