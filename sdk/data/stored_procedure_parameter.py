"""StoredProcedureParameter (``azureml.data.stored_procedure_parameter``, and the same classes at
``azureml.pipeline.core.graph``): a named value passed to the stored procedure a
``SqlDataReference(sql_stored_procedure=...)`` calls.

Azure hands the parameters to Data Factory as strings with a type; amlocal converts each value to
its type (:meth:`StoredProcedureParameter.python_value`) and binds it by name when the
DataTransferStep calls the procedure (see :func:`amlocal.datastores.sql.procedure_call`).
"""
from __future__ import annotations

import enum

__all__ = ["StoredProcedureParameter", "StoredProcedureParameterType"]


class StoredProcedureParameterType(enum.Enum):
    """The type of a stored procedure parameter's value."""

    String = "String"
    Int = "Int"
    Decimal = "Decimal"
    Guid = "Guid"
    Boolean = "Boolean"
    Date = "Date"

    @staticmethod
    def from_str(code) -> "StoredProcedureParameterType":
        """The type named ``code``: its name ("Int") or its position as text ("1"); ValueError
        otherwise."""
        members = list(StoredProcedureParameterType)
        for index, member in enumerate(members):
            if code in (member.value, str(index)):
                return member
        raise ValueError(f"{code!r} is not a stored procedure parameter type: use one of "
                         f"{', '.join(m.value for m in members)} (or 0-{len(members) - 1})")


class StoredProcedureParameter:
    """A parameter of a stored procedure: ``name``, ``value`` (a string, as on Azure, or a value
    of the type) and ``type`` (default ``StoredProcedureParameterType.String``)."""

    def __init__(self, name, value, type=None):
        self.name = name
        self.value = value
        self.type = type or StoredProcedureParameterType.String

    def python_value(self):
        """The value as its type says (see :func:`amlocal.datastores.sql.procedure_value`).
        Raises UserErrorException naming the parameter for a value its type cannot take."""
        from amlocal.datastores.sql import procedure_value
        return procedure_value(self.name, getattr(self.type, "value", self.type), self.value)

    def _to_definition(self) -> dict:
        return {"name": self.name, "value": self.value,
                "type": getattr(self.type, "value", self.type)}

    def __repr__(self) -> str:
        return (f"StoredProcedureParameter(name={self.name!r}, value={self.value!r}, "
                f"type={self.type})")
