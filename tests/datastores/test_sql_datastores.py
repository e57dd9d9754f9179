"""SQL datastores: Azure's three registrations and amlocal's register_sql map onto SQLAlchemy URLs
(host from server_name/endpoint, port, driver, sslmode), the PostgreSQL one connects to a real
server, the password is kept in the store and never shown (repr, _display_dict, the CLI), a
wrong password or a missing driver is named clearly (password masked), and file operations on a
SQL datastore raise naming what to use instead."""
from __future__ import annotations

import importlib.util
import json
import sqlite3

import pytest
from click.testing import CliRunner


def _sqlite(tmp_path):
    path = tmp_path / "immo.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE immo (surface REAL, price REAL)")
        conn.executemany("INSERT INTO immo VALUES (?, ?)", [(50, 100), (70, 150)])
    return path


def test_register_sql_sqlite_is_a_sql_datastore(workspace, tmp_path):
    from amlocal.core import Datastore
    from amlocal.data._sql_datastore import SqlDatastore
    path = _sqlite(tmp_path)
    ds = Datastore.register_sql(workspace, "lite", f"sqlite:///{path}")
    assert isinstance(ds, SqlDatastore) and ds.datastore_type == "Sql"
    assert Datastore(workspace, "lite") == ds and isinstance(Datastore.get(workspace, "lite"),
                                                             SqlDatastore)
    assert ds.url == f"sqlite:///{path}" and ds.database_name == str(path)
    # same URL again: unchanged; another URL without overwrite: refused
    assert Datastore.register_sql(workspace, "lite", f"sqlite:///{path}") == ds
    with pytest.raises(Exception, match="already registered.*overwrite=True"):
        Datastore.register_sql(workspace, "lite", f"sqlite:///{tmp_path / 'other.db'}")
    with pytest.raises(Exception, match=r"is a database URL.*Datastore.register_sql"):
        Datastore.register(workspace, "wrong", f"sqlite:///{path}")
    # a database that cannot be opened is named at registration
    with pytest.raises(Exception, match="SQL datastore 'bad'.*failed"):
        Datastore.register_sql(workspace, "bad", f"sqlite:///{tmp_path / 'no' / 'such.db'}")


@pytest.mark.parametrize("method", ["upload", "download", "as_mount", "as_download", "path"])
def test_file_operations_on_a_sql_datastore_raise_naming_the_alternative(workspace, tmp_path,
                                                                         method):
    from amlocal.core import Datastore
    ds = Datastore.register_sql(workspace, "lite", f"sqlite:///{_sqlite(tmp_path)}")
    args = {"upload": (str(tmp_path),), "download": (str(tmp_path),)}.get(method, ())
    with pytest.raises(Exception, match=r"'lite' is a SQL datastore.*from_sql_query"):
        getattr(ds, method)(*args)


@pytest.mark.filterwarnings("ignore:datastore '.*' is registered, but cannot be used yet")
def test_azure_registrations_map_onto_urls(workspace):
    from amlocal.core import Datastore
    from amlocal.data.azure_my_sql_datastore import AzureMySqlDatastore
    from amlocal.data.azure_postgre_sql_datastore import AzurePostgreSqlDatastore
    from amlocal.data.azure_sql_database_datastore import AzureSqlDatabaseDatastore

    pg = Datastore.register_azure_postgre_sql(
        workspace, "pg_azure", "myserver", "sales", "analyst", "pw-1",
        endpoint="postgres.database.azure.com", skip_validation=True)
    assert isinstance(pg, AzurePostgreSqlDatastore) and pg.datastore_type == "AzurePostgreSql"
    assert pg.url == ("postgresql+psycopg://analyst@myserver.postgres.database.azure.com/sales"
                      "?sslmode=require")
    assert (pg.server_name, pg.database_name, pg.user_id, pg.enforce_ssl) == (
        "myserver", "sales", "analyst", True)
    local = Datastore.register_azure_postgre_sql(
        workspace, "pg_local", "localhost", "sales", "analyst", "pw-1", port_number=6543,
        skip_validation=True)
    assert local.url == "postgresql+psycopg://analyst@localhost:6543/sales?sslmode=prefer"
    assert local.port_number == 6543

    my = Datastore.register_azure_my_sql(workspace, "my", "db1", "shop", "root", "pw-2",
                                         port_number=3307, endpoint="mysql.database.azure.com",
                                         skip_validation=True)
    assert isinstance(my, AzureMySqlDatastore) and my.datastore_type == "AzureMySql"
    assert my.url == "mysql+pymysql://root@db1.mysql.database.azure.com:3307/shop"

    with pytest.warns(UserWarning, match="service principal .* ignored"):
        ms = Datastore.register_azure_sql_database(
            workspace, "ms", "localhost,1433", "dw", tenant_id="t", client_id="c",
            client_secret="s", username="sa", password="pw-3", skip_validation=True)
    assert isinstance(ms, AzureSqlDatabaseDatastore) and ms.datastore_type == "AzureSqlDatabase"
    assert ms.url == "mssql+pymssql://sa@localhost:1433/dw"
    assert ms.username == "sa" and ms.auth_type == "SqlAuthentication"
    full = Datastore.register_azure_sql_database(
        workspace, "ms_azure", "contoso", "dw", endpoint="database.windows.net",
        username="sa", password="pw-3", skip_validation=True)
    assert full.url == "mssql+pymssql://sa@contoso.database.windows.net/dw"

    with pytest.raises(Exception, match="service principal.*cannot sign in.*username= and "
                                        "password="):
        Datastore.register_azure_sql_database(workspace, "sp", "contoso", "dw", tenant_id="t",
                                              client_id="c", client_secret="s")
    with pytest.raises(Exception, match="unexpected arguments \\['retries'\\]"):
        Datastore.register_azure_my_sql(workspace, "x", "h", "d", "u", "p", retries=3)
    with pytest.raises(Exception, match="user_password is required"):
        Datastore.register_azure_postgre_sql(workspace, "x", "h", "d", "u", None)


def test_missing_driver_names_the_pip_install(workspace):
    from amlocal.core import Datastore
    if importlib.util.find_spec("pymssql") is not None:
        pytest.skip("pymssql is installed here: the missing-driver path cannot be shown")
    with pytest.raises(Exception, match=r"needs the 'pymssql' driver.*pip install pymssql"):
        Datastore.register_azure_sql_database(workspace, "ms", "localhost", "dw",
                                              username="sa", password="pw")
    with pytest.warns(UserWarning, match="cannot be used yet: pip install pymssql"):
        Datastore.register_azure_sql_database(workspace, "ms", "localhost", "dw",
                                              username="sa", password="pw",
                                              skip_validation=True)


def test_postgres_registration_connects_and_never_shows_the_password(workspace, postgres_url):
    from sqlalchemy.engine import make_url
    from amlocal.cli import cli
    from amlocal.core import Datastore
    url = make_url(postgres_url)
    ds = Datastore.register_azure_postgre_sql(workspace, "pg", url.host, url.database,
                                              url.username, url.password,
                                              port_number=url.port)
    assert ds.url == (f"postgresql+psycopg://{url.username}@{url.host}:{url.port}/"
                      f"{url.database}?sslmode=prefer")
    stored = workspace._store.get_datastore(workspace._id, "pg")
    assert stored.options["password"] == url.password and url.password not in stored.url
    for text in (repr(ds), json.dumps(ds._display_dict())):
        assert url.password not in text and "pg" in text
    assert ds._display_dict()["storage_options"]["password"] == "***"
    runner = CliRunner()
    where = ["-w", workspace.name, "-g", workspace.resource_group]
    for args in (["datastore", "list", *where], ["datastore", "list", *where, "-o", "json"]):
        result = runner.invoke(cli, args, catch_exceptions=False)
        assert result.exit_code == 0 and "pg" in result.output
        assert url.password not in result.output

    # the generic registration: password taken out of the URL, postgresql:// gets psycopg
    generic = Datastore.register_sql(workspace, "pg_url", postgres_url)
    assert generic.url == (f"postgresql+psycopg://{url.username}@{url.host}:{url.port}/"
                           f"{url.database}")
    assert url.password not in repr(generic)
    result = runner.invoke(cli, ["datastore", "attach-sql", "-n", "pg_cli", "--url",
                                 postgres_url, *where], catch_exceptions=False)
    assert result.exit_code == 0 and "Registered SQL datastore 'pg_cli'" in result.output
    assert "password=***" in result.output and url.password not in result.output
    assert Datastore(workspace, "pg_cli").url == generic.url

    # a wrong password is named, with the password masked
    with pytest.raises(Exception) as info:
        Datastore.register_azure_postgre_sql(workspace, "pg_bad", url.host, url.database,
                                             url.username, "Wrong-Secret-123",
                                             port_number=url.port)
    message = str(info.value)
    assert "SQL datastore 'pg_bad'" in message and "password authentication failed" in message
    assert "Wrong-Secret-123" not in message
    assert workspace._store.get_datastore(workspace._id, "pg_bad") is None
