"""`amlocal datastore register|list|upload` against a real store and real folders; storage
options are stored but their secret values never printed."""
from __future__ import annotations

import json

import pytest


WS = ["-w", "dsws", "-g", "dsrg"]


@pytest.fixture
def amlocal(amlocal):
    """The CLI, with this module's workspace created."""
    assert amlocal("workspace", "create", *WS).exit_code == 0
    return amlocal


def test_register_list_and_secrets_stay_hidden(amlocal, tmp_path):
    target = tmp_path / "lake"
    registered = amlocal("datastore", "register", "-n", "lake", "--url", target.as_uri(),
                         "--option", "account_key=TOPSECRET-123", "--option", "anon=true",
                         *WS, "-o", "json")
    assert registered.exit_code == 0, registered.output
    shown = json.loads(registered.stdout)
    assert shown["name"] == "lake" and shown["datastore_type"] == "file"
    assert shown["storage_options"]["anon"] == "true"
    assert shown["storage_options"]["account_key"] == "***"

    table = amlocal("datastore", "list", *WS)
    json_list = amlocal("datastore", "list", *WS, "-o", "json")
    for result in (registered, table, json_list):
        assert "TOPSECRET" not in result.output
    names = {d["name"]: d for d in json.loads(json_list.stdout)}
    assert set(names) == {"lake", "workspaceblobstore"}
    assert names["workspaceblobstore"]["default"] is True and names["lake"]["default"] is False
    assert any(line.split()[0] == "lake" and target.as_uri() in line
               for line in table.stdout.splitlines())

    # the secret is kept in the store, for the steps that read the datastore
    from amlocal.core.datastore import Datastore
    from amlocal.core.workspace import Workspace
    ws = Workspace.get("dsws", resource_group="dsrg")
    assert Datastore.get(ws, "lake")._storage_options["account_key"] == "TOPSECRET-123"


def test_register_conflicts_and_bad_options(amlocal, tmp_path):
    first = amlocal("datastore", "register", "-n", "lake", "--url", (tmp_path / "a").as_uri(), *WS)
    assert first.exit_code == 0
    clash = amlocal("datastore", "register", "-n", "lake", "--url", (tmp_path / "b").as_uri(), *WS)
    assert clash.exit_code == 1 and "already registered" in clash.stderr
    assert "Traceback" not in clash.output
    replaced = amlocal("datastore", "register", "-n", "lake", "--url", (tmp_path / "b").as_uri(),
                       "--overwrite", *WS, "-o", "json")
    assert json.loads(replaced.stdout)["url"] == (tmp_path / "b").as_uri()

    bad = amlocal("datastore", "register", "-n", "other", "--url", (tmp_path / "c").as_uri(),
                  "--option", "=hunter2", *WS)
    assert bad.exit_code == 1 and "empty KEY" in bad.stderr and "hunter2" not in bad.output
    no_eq = amlocal("datastore", "register", "-n", "other", "--url", (tmp_path / "c").as_uri(),
                    "--option", "anon", *WS)
    assert no_eq.exit_code == 1 and "'anon' is not KEY=VALUE" in no_eq.stderr
    bad_name = amlocal("datastore", "register", "-n", "1bad", "--url", (tmp_path / "c").as_uri(), *WS)
    assert bad_name.exit_code == 1 and "is not valid" in bad_name.stderr


def test_upload_folder_and_file(amlocal, tmp_path):
    lake = tmp_path / "lake"
    assert amlocal("datastore", "register", "-n", "lake", "--url", lake.as_uri(), *WS).exit_code == 0
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.csv").write_text("a\n1\n")
    (src / "sub" / "b.csv").write_text("b\n2\n")

    up = amlocal("datastore", "upload", "-n", "lake", "--src-path", str(src),
                 "--target-path", "raw/v1", *WS)
    assert up.exit_code == 0, up.output
    assert (lake / "raw" / "v1" / "a.csv").read_text() == "a\n1\n"
    assert (lake / "raw" / "v1" / "sub" / "b.csv").read_text() == "b\n2\n"

    (src / "a.csv").write_text("a\nchanged\n")
    skipped = amlocal("datastore", "upload", "-n", "lake", "--src-path", str(src),
                      "--target-path", "raw/v1", *WS)
    assert skipped.exit_code == 0
    assert (lake / "raw" / "v1" / "a.csv").read_text() == "a\n1\n"
    warning = [line for line in skipped.stderr.splitlines() if line.startswith("Warning: ")]
    assert len(warning) == 1 and "--overwrite" in warning[0], skipped.stderr

    forced = amlocal("datastore", "upload", "-n", "lake", "--src-path", str(src),
                     "--target-path", "raw/v1", "--overwrite", *WS)
    assert forced.exit_code == 0
    assert (lake / "raw" / "v1" / "a.csv").read_text() == "a\nchanged\n"

    single = amlocal("datastore", "upload", "-n", "lake", "--src-path", str(src / "sub" / "b.csv"),
                     "--target-path", "one", *WS)
    assert single.exit_code == 0, single.output
    assert sorted(p.name for p in (lake / "one").iterdir()) == ["b.csv"]

    missing = amlocal("datastore", "upload", "-n", "nolake", "--src-path", str(src), *WS)
    assert missing.exit_code == 1
    assert "no datastore named 'nolake'" in missing.stderr and "lake" in missing.stderr
