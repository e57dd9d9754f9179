"""The base classes of the configuration objects (``azureml.core.runconfig`` and
``azureml.core.environment`` sections, and ``DataReferenceConfiguration``), kept in the data
layer so that both it and ``amlocal.core`` build on them. Standard library only."""
from __future__ import annotations


class _ConfigElement:
    """Base of the configuration sections: once built, assigning an attribute the class does not
    have raises AttributeError (azureml's _AbstractRunConfigElement), so typos fail loudly.
    ``_HINTS`` maps a misplaced name to the place it lives."""

    _initialized = False
    _HINTS: dict = {}

    def __setattr__(self, name, value):
        if self._initialized and not hasattr(self, name):
            raise AttributeError(self._unknown(name))
        object.__setattr__(self, name, value)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        raise AttributeError(self._unknown(name))

    def _unknown(self, name: str) -> str:
        message = f"{type(self).__name__} has no attribute {name!r}"
        if name in self._HINTS:
            return f"{message}; {self._HINTS[name]}"
        known = sorted(n for n in dir(self) if not n.startswith("_") and not callable(getattr(self, n)))
        return f"{message}; its attributes are: {', '.join(known)}"


class _Section(_ConfigElement):
    """A section that serialises its public attributes under camelCase keys, as azureml's
    ``.runconfig`` files name them (``data_store_name`` -> ``dataStoreName``)."""

    def _serialize_to_dict(self) -> dict:
        def camel(name: str) -> str:
            head, *rest = name.split("_")
            return head + "".join(part.title() for part in rest)
        return {camel(k): v for k, v in vars(self).items() if not k.startswith("_")}
