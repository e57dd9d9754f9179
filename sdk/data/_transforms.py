"""The transformations a dataset definition carries in its ``"transforms"`` list (``take``,
``skip``, ``take_sample``, ``random_split``, ``filter``, ``keep_columns``, ``drop_columns``): the
checks of their arguments when a dataset method adds one. They are applied, on the host and
inside a step alike, by :mod:`amlocal.datastores.transforms` (which documents the list), whose
functions are importable from here too.

A seed left None by the user is drawn when the transformation is created and stored, so a
dataset object always reads the same rows (Azure's engine draws a new one).
"""
from __future__ import annotations

import random

from amlocal.datastores.transforms import (FILE_METADATA, ROW_ONLY, apply_to_files,  # noqa: F401
                                           apply_to_frame, file_metadata, row_limit, select_files)

from ..errors import UserErrorException


def check_probability(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise UserErrorException(f"{what} must be a number between 0.0 and 1.0, not {value!r}")
    return float(value)


def check_seed(seed) -> int:
    """The seed to store: the given whole number, or a new random one for None."""
    if seed is None:
        return random.SystemRandom().randrange(2 ** 31)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UserErrorException(f"seed must be a whole number >= 0 or None, not {seed!r}")
    return seed


def check_columns(columns, what: str) -> list[str]:
    items = [columns] if isinstance(columns, str) else columns
    if not isinstance(items, (list, tuple)) or not items \
            or not all(isinstance(c, str) and c for c in items):
        raise UserErrorException(
            f"{what}(columns) needs a column name or a non-empty list of them, not {columns!r}")
    return list(items)


def count(value, what: str) -> int:
    """The row count of ``take``/``skip``: a whole number >= 0."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise UserErrorException(f"{what}(count) needs a whole number >= 0, not {value!r}")
    return value
