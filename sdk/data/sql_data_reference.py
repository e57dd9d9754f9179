"""SqlDataReference (``azureml.data.sql_data_reference``): a table, a query or a stored procedure
of a SQL datastore, the source or destination of a ``DataTransferStep``.

As on Azure it is a DataReference whose path operations (``path``, ``as_mount``,
``as_download``, ``as_upload``, ``to_config``) raise NotImplementedError: a step never mounts a
database. ``str(ref)`` is ``$AZUREML_DATAREFERENCE_<name>`` like any data reference.

Deliberate differences from Azure:

- the datastore must be a SQL datastore (``Datastore.register_azure_sql_database``,
  ``register_azure_postgre_sql``, ``register_azure_my_sql`` or amlocal's ``register_sql``):
  anything else raises UserErrorException here, at construction (Azure fails later, in Data
  Factory);
- ``write_mode`` (keyword only, amlocal addition): how a DataTransferStep writes into
  ``sql_table``: ``"append"`` (the default, as Data Factory's copy activity inserts rows into an
  existing table) or ``"replace"`` (the table is dropped and created anew from the data's types).
  Azure has no such option;
- ``sql_stored_procedure_params`` must be StoredProcedureParameter objects (checked here); a
  DataTransferStep calls the procedure as a source (its result set is the rows) and refuses it
  as a destination.
"""
from __future__ import annotations

from ..errors import UserErrorException
from .data_reference import DataReference

WRITE_MODES = ("append", "replace")


def _datastore_kind(datastore) -> str | None:
    return getattr(datastore, "datastore_type", None)


def is_sql_datastore(datastore) -> bool:
    """Whether ``datastore`` (a Datastore object) is one of the SQL datastores."""
    from amlocal.datastores.sql import is_sql
    return is_sql(_datastore_kind(datastore))


class SqlDataReference(DataReference):
    """``SqlDataReference(datastore, data_reference_name=None, sql_table=None, sql_query=None,
    sql_stored_procedure=None, sql_stored_procedure_params=None, *, write_mode='append')``.

    Give one of ``sql_table``, ``sql_query`` or ``sql_stored_procedure``. As a DataTransferStep
    source a table is read whole (``SELECT *``) and a query is run on the host when the step
    runs; as a destination ``sql_table`` is written (``write_mode``, see the module docstring).
    Raises UserErrorException at construction for a datastore that is not a SQL datastore, for
    none or more than one of table/query/procedure, or for an unknown ``write_mode``.
    """

    def __init__(self, datastore, data_reference_name: str | None = None,
                 sql_table: str | None = None, sql_query: str | None = None,
                 sql_stored_procedure: str | None = None, sql_stored_procedure_params=None,
                 *, write_mode: str = "append"):
        if datastore is None or not hasattr(datastore, "name"):
            raise UserErrorException(
                "SqlDataReference needs a SQL datastore object, e.g. Datastore.get(ws, 'mydb') "
                "after Datastore.register_azure_postgre_sql(...) or Datastore.register_sql(...)")
        if not is_sql_datastore(datastore):
            raise UserErrorException(
                f"datastore '{datastore.name}' is a {_datastore_kind(datastore) or 'file'} "
                "datastore, not a SQL database: a SqlDataReference needs one registered with "
                "Datastore.register_azure_sql_database / register_azure_postgre_sql / "
                "register_azure_my_sql / register_sql; for files use datastore.path('...')")
        given = [n for n, v in (("sql_table", sql_table), ("sql_query", sql_query),
                                ("sql_stored_procedure", sql_stored_procedure)) if v]
        if len(given) != 1:
            raise UserErrorException(
                "SqlDataReference needs exactly one of sql_table, sql_query or "
                f"sql_stored_procedure (given: {', '.join(given) or 'none'}), e.g. "
                "SqlDataReference(ds, sql_table='results') or sql_query='SELECT * FROM t'")
        for name, value in (("sql_table", sql_table), ("sql_query", sql_query),
                            ("sql_stored_procedure", sql_stored_procedure)):
            if value is not None and not isinstance(value, str):
                raise UserErrorException(f"{name} must be a string, not {type(value).__name__}")
        if write_mode not in WRITE_MODES:
            raise UserErrorException(f"write_mode {write_mode!r} is not valid: use 'append' "
                                     "(add rows) or 'replace' (recreate the table)")
        self.sql_table = sql_table
        self.sql_query = sql_query
        from .stored_procedure_parameter import StoredProcedureParameter
        params = list(sql_stored_procedure_params or [])
        if params and not sql_stored_procedure:
            raise UserErrorException("sql_stored_procedure_params are given without "
                                     "sql_stored_procedure: name the procedure they are for")
        for param in params:
            if not isinstance(param, StoredProcedureParameter):
                raise UserErrorException(
                    f"sql_stored_procedure_params holds {param!r}; give StoredProcedureParameter"
                    "(name, value, type) objects (from azureml.data.stored_procedure_parameter)")
            param.python_value()       # a value its type cannot take: said now
        self.sql_stored_procedure = sql_stored_procedure
        self.sql_stored_procedure_params = sql_stored_procedure_params
        self.write_mode = write_mode
        super().__init__(datastore, data_reference_name=data_reference_name)

    def path(self, path=None, data_reference_name=None):
        """Not supported for SqlDataReference (raises NotImplementedError, as on Azure)."""
        raise NotImplementedError("SqlDataReference does not support `path` operation.")

    def as_download(self, path_on_compute=None, overwrite=False):
        """Not supported for SqlDataReference (raises NotImplementedError, as on Azure)."""
        raise NotImplementedError("SqlDataReference does not support `download` operation.")

    def as_upload(self, path_on_compute=None, overwrite=False):
        """Not supported for SqlDataReference (raises NotImplementedError, as on Azure)."""
        raise NotImplementedError("SqlDataReference does not support `upload` operation.")

    def as_mount(self):
        """Not supported for SqlDataReference (raises NotImplementedError, as on Azure)."""
        raise NotImplementedError("SqlDataReference does not support `mount` operation.")

    def to_config(self):
        """Not supported for SqlDataReference (raises NotImplementedError, as on Azure)."""
        raise NotImplementedError("SqlDataReference does not support `to_config` operation.")

    def _clone(self) -> "SqlDataReference":
        return SqlDataReference(self.datastore, self.data_reference_name, self.sql_table,
                                self.sql_query, self.sql_stored_procedure,
                                self.sql_stored_procedure_params, write_mode=self.write_mode)

    def _procedure_params(self) -> list[dict]:
        """The procedure's parameters as plain data (name, value, type)."""
        return [p._to_definition() for p in self.sql_stored_procedure_params or []]

    def _to_definition(self) -> dict:
        """Plain JSON naming the datastore by name (no credentials)."""
        return {"type": "SqlDataReference", "datastore": self.datastore.name,
                "data_reference_name": self.data_reference_name, "sql_table": self.sql_table,
                "sql_query": self.sql_query, "sql_stored_procedure": self.sql_stored_procedure,
                "sql_stored_procedure_params": self._procedure_params(),
                "write_mode": self.write_mode}

    def __repr__(self) -> str:
        what = (f"sql_table={self.sql_table!r}" if self.sql_table else
                f"sql_query={self.sql_query!r}" if self.sql_query else
                f"sql_stored_procedure={self.sql_stored_procedure!r}")
        return f"SqlDataReference(datastore={self.datastore.name!r}, {what})"
