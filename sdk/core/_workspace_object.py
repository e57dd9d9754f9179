"""The base of the classes a workspace holds (Experiment, Model, Run).

Workspace lists experiments and models and looks runs up; Experiment rehydrates its runs. Those
modules sit below the classes they hand out (``run`` imports ``experiment`` and ``workspace``),
so they reach them through this base instead of importing them: each class declares the
``_OBJECT_TYPE`` it stands for, and :func:`object_class` finds the subclass declaring one. The
package ``amlocal.core`` imports every one of them, so they are always defined when asked for.
"""
from __future__ import annotations


class WorkspaceObject:
    """A class a workspace holds, found by the ``_OBJECT_TYPE`` it declares."""

    _OBJECT_TYPE = ""


def object_class(object_type: str) -> type:
    """The class declaring ``_OBJECT_TYPE = object_type`` (its own, not inherited)."""
    todo = list(WorkspaceObject.__subclasses__())
    while todo:
        cls = todo.pop(0)
        if cls.__dict__.get("_OBJECT_TYPE") == object_type:
            return cls
        todo.extend(cls.__subclasses__())
    raise LookupError(f"no class of amlocal.core declares _OBJECT_TYPE {object_type!r}: "
                      "import amlocal.core, whose modules define them")
