"""Datastore registration, lookup, defaults and redaction, on a real SQLite store."""
from __future__ import annotations

import pytest

from amlocal.core.datastore import Datastore
from amlocal.core.workspace import Workspace
from amlocal.errors import NotFoundError, UserErrorException

SECRET = "s3cr3t-K3y-value"


def _missing_protocol() -> tuple[str, str]:
    """A protocol fsspec knows whose package is not installed here, and that package's name."""
    from amlocal.datastores import install_hint
    for proto, package in (("oci", "ocifs"), ("gcs", "gcsfs"), ("box", "boxfs")):
        if install_hint(f"{proto}://bucket/x"):
            return proto, package
    pytest.skip("every candidate fsspec protocol package is installed")


@pytest.fixture
def ws(home):
    """A workspace in the fresh AMLOCAL_HOME of tests/conftest.py's ``home`` fixture."""
    return Workspace("sub", "rg", "test_ws")


def test_default_datastore_is_workspaceblobstore_folder_under_home(ws, home):
    ds = Datastore(ws)
    assert ds.name == "workspaceblobstore"
    assert ds.datastore_type == "file"
    assert ds.url.startswith(home.resolve().as_uri() + "/")
    assert Datastore.get_default(ws) == ds
    assert Datastore.get(ws, "workspaceblobstore") == ds
    assert ws.get_default_datastore() == ds


def test_register_local_folder_and_get(ws, tmp_path):
    folder = tmp_path / "lake"
    ds = Datastore.register(ws, "lake_1", str(folder))
    assert ds.url == folder.resolve().as_uri()
    assert ds.datastore_type == "file"
    again = Datastore.get(ws, "lake_1")
    assert again.url == ds.url and again == ds
    assert set(ws.datastores) == {"lake_1", "workspaceblobstore"}


def test_unknown_name_lists_known_names_and_how_to_register(ws, tmp_path):
    Datastore.register(ws, "lake", tmp_path.as_uri())
    with pytest.raises(NotFoundError) as err:
        Datastore.get(ws, "nope")
    message = str(err.value)
    assert "'nope'" in message
    assert "lake, workspaceblobstore" in message
    assert "Datastore.register(" in message


@pytest.mark.parametrize("name", ["1abc", "_abc", "has-dash", "sp ace", "", "x" * 256])
def test_invalid_names_are_refused(ws, tmp_path, name):
    with pytest.raises(UserErrorException, match="letters, digits and '_'"):
        Datastore.register(ws, name, tmp_path.as_uri())


def test_reregister_same_url_is_a_no_op_different_url_needs_overwrite(ws, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    Datastore.register(ws, "lake", a.as_uri())
    assert Datastore.register(ws, "lake", a.as_uri()).url == a.as_uri()
    with pytest.raises(UserErrorException, match="overwrite=True"):
        Datastore.register(ws, "lake", b.as_uri())
    assert Datastore.register(ws, "lake", b.as_uri(), overwrite=True).url == b.as_uri()
    assert Datastore.get(ws, "lake").url == b.as_uri()


def test_credentials_never_shown(ws, capsys):
    options = {"account_name": "acct", "account_key": SECRET,
               "client_kwargs": {"session_token": SECRET, "region_name": "eu"}}
    proto, package = _missing_protocol()
    with pytest.warns(UserWarning, match=package):
        ds = Datastore.register(ws, "blob", f"{proto}://user:{SECRET}@container/x?sig={SECRET}&sv=1",
                                storage_options=options)
    shown = [repr(ds), str(ds), repr(ws.datastores), str(ds._display_dict())]
    for text in shown:
        assert SECRET not in text
    display = ds._display_dict()
    assert display["storage_options"]["account_name"] == "acct"
    assert display["storage_options"]["account_key"] == "***"
    assert display["storage_options"]["client_kwargs"] == {"session_token": "***", "region_name": "eu"}
    assert "sv=1" in display["url"] and "sig=***" in display["url"]
    # the store keeps them, for the filesystem to use
    assert Datastore.get(ws, "blob")._storage_options["account_key"] == SECRET
    assert SECRET not in capsys.readouterr().err


def test_missing_package_registers_with_install_hint_then_use_raises(ws, tmp_path):
    proto, package = _missing_protocol()
    with pytest.warns(UserWarning, match=package):
        ds = Datastore.register(ws, "blob", f"{proto}://container/folder")
    assert ds.datastore_type == proto
    with pytest.raises(UserErrorException, match=package):
        ds.download(str(tmp_path / "out"), show_progress=False)


def test_unknown_protocol_is_refused_with_known_protocols(ws):
    with pytest.raises(UserErrorException, match="does not know the protocol 'nosuchproto'") as err:
        Datastore.register(ws, "weird", "nosuchproto://x/y")
    assert "memory" in str(err.value) and "s3" in str(err.value)


def test_storage_options_must_be_json(ws, tmp_path):
    with pytest.raises(UserErrorException, match="plain JSON"):
        Datastore.register(ws, "lake", tmp_path.as_uri(), storage_options={"x": object()})


def test_set_as_default_and_unregister(ws, tmp_path):
    lake = Datastore.register(ws, "lake", tmp_path.as_uri())
    lake.set_as_default()
    assert Datastore(ws).name == "lake"
    with pytest.raises(UserErrorException, match="default datastore"):
        lake.unregister()
    Datastore.get(ws, "workspaceblobstore").set_as_default()
    lake.unregister()
    assert "lake" not in ws.datastores
    assert tmp_path.exists()  # the data is left in place
    with pytest.raises(NotFoundError):
        Datastore.get(ws, "lake")
