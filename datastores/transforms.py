"""The transformations a dataset definition carries in its ``"transforms"`` list, applied in
order when the data is read, on the host and inside a step alike (the list is plain JSON; the
dataset methods of ``amlocal.data`` add them, checking their arguments).

Rows of a TabularDataset (:func:`apply_to_frame`) and files of a FileDataset
(:func:`apply_to_files`):

- ``{"take": n}``, ``{"skip": n}``: the first n rows/files, or all but them;
- ``{"take_sample": {"probability": p, "seed": s}}``: each row/file kept with probability p;
- ``{"random_split": {"percentage": p, "seed": s, "part": 0 | 1}}``: part 0 keeps the rows/files
  whose draw is below p, part 1 the others, so the two parts of one split partition the data;
- ``{"filter": <expression JSON>}`` (evaluated by :mod:`.expressions`);
- rows only: ``{"keep_columns": [...]}``, ``{"drop_columns": [...]}``.

The draws come from a generator seeded with ``s``: the same seed over the same data gives the
same rows. A seed left None by the user is drawn when the transformation is created and stored,
so a dataset object always reads the same rows (Azure's engine draws a new one).

:func:`select_files` narrows a resolved FileDataset to the files its transformations keep, for
binding a step input. pandas is imported only by the functions that read data.
"""
from __future__ import annotations

import random

from amlocal.errors import UserErrorException

from .expressions import evaluate

ROW_ONLY = ("keep_columns", "drop_columns")


def row_limit(transforms: list[dict]) -> int | None:
    """How many rows must be read to apply ``transforms`` (None: all of them)."""
    needed: int | None = None
    for step in transforms:
        if "take" in step:
            needed = step["take"] if needed is None else min(needed, step["take"])
        elif not any(k in step for k in ROW_ONLY):
            return needed   # later steps only narrow what the takes before them kept
    return needed


def apply_to_frame(frame, transforms: list[dict]):
    """``frame`` with ``transforms`` applied in order. Raises UserErrorException naming a
    column that does not exist."""
    for step in transforms:
        if "take" in step:
            frame = frame.head(step["take"])
        elif "skip" in step:
            frame = frame.iloc[step["skip"]:]
        elif "keep_columns" in step:
            frame = frame[_existing(frame, step["keep_columns"], "keep_columns")]
        elif "drop_columns" in step:
            frame = frame.drop(columns=_existing(frame, step["drop_columns"], "drop_columns"))
        elif "filter" in step:
            frame = frame[evaluate(step["filter"], frame).to_numpy()]
        elif "take_sample" in step or "random_split" in step:
            frame = frame[_draw_mask(len(frame), step, numpy=True)]
        else:
            raise UserErrorException(f"unknown dataset transformation {step!r}; this dataset "
                                     "was made by a newer amlocal")
        frame = frame.reset_index(drop=True)
    return frame


def apply_to_files(matches: list, transforms: list[dict], metadata) -> list:
    """The file matches ``transforms`` keep, in order. ``metadata(matches)`` returns the pandas
    DataFrame of their metadata columns (for ``filter``), one row per match."""
    for step in transforms:
        if "take" in step:
            matches = matches[:step["take"]]
        elif "skip" in step:
            matches = matches[step["skip"]:]
        elif "filter" in step:
            mask = evaluate(step["filter"], metadata(matches)).tolist() if matches else []
            matches = [m for m, keep in zip(matches, mask) if keep]
        elif "take_sample" in step or "random_split" in step:
            mask = _draw_mask(len(matches), step, numpy=False)
            matches = [m for m, keep in zip(matches, mask) if keep]
        else:
            raise UserErrorException(f"transformation {step!r} does not apply to a FileDataset")
    return matches


def _existing(frame, columns: list[str], what: str) -> list[str]:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise UserErrorException(
            f"{what} names column(s) {missing}, which the data does not have; columns: "
            f"{', '.join(map(str, frame.columns))}")
    return columns


def _draw_mask(count: int, step: dict, numpy: bool):
    spec = step.get("take_sample") or step["random_split"]
    if numpy:
        import numpy as np
        draws = np.random.default_rng(spec["seed"]).random(count)
    else:
        generator = random.Random(spec["seed"])
        draws = [generator.random() for _ in range(count)]
    if "take_sample" in step:
        limit, keep_below = spec["probability"], True
    else:
        limit, keep_below = spec["percentage"], spec["part"] == 0
    if numpy:
        return draws < limit if keep_below else draws >= limit
    return [(d < limit) == keep_below for d in draws]


# The columns of FileDataset.file_metadata, as Azure's stream properties.
FILE_METADATA = ("Size", "LastModifiedTime", "CreationTime", "Extension", "CanSeek")


def select_files(res, transforms: list[dict]):
    """The resolution ``res`` (see :mod:`.resolve`) keeping only the files
    ``transforms`` select. Its sources no longer name whole folders, so a mount binds exactly
    the selected files."""
    import dataclasses
    if not transforms:
        return res
    matches = apply_to_files(list(res.matches), transforms, lambda ms: file_metadata(res, ms))
    sources = [dataclasses.replace(s, folder=None) for s in res.sources]
    return dataclasses.replace(res, sources=sources, matches=matches)


def file_metadata(res, matches):
    """A pandas DataFrame of FILE_METADATA for ``matches`` (the files' own times, in UTC)."""
    import pandas as pd
    from pathlib import PurePosixPath
    rows = []
    for match in matches:
        info = {}
        try:
            info = res.sources[match.source].fs.info(match.path)
        except (OSError, ValueError):
            pass
        rows.append({"Size": info.get("size", match.size),
                     "LastModifiedTime": _time(pd, info, ("mtime", "LastModified", "last_modified",
                                                          "updated")),
                     "CreationTime": _time(pd, info, ("created", "creation_time", "timeCreated")),
                     "Extension": PurePosixPath(match.portable).suffix.lstrip("."),
                     "CanSeek": True})
    return pd.DataFrame(rows, columns=list(FILE_METADATA))


def _time(pd, info: dict, keys):
    for key in keys:
        value = info.get(key)
        if value is None:
            continue
        if isinstance(value, (int, float)):
            return pd.Timestamp(value, unit="s")
        stamp = pd.Timestamp(value)
        return stamp.tz_convert(None) if stamp.tzinfo is not None else stamp
    return pd.NaT
