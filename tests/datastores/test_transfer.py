"""Upload and download through datastores: skip-existing semantics, overwrite, path escapes,
and a non-file protocol (fsspec's memory://)."""
from __future__ import annotations

import uuid
import warnings

import pytest

from amlocal.core.datastore import Datastore
from amlocal.core.workspace import Workspace
from amlocal.datastores import expand, upload_dir
from amlocal.errors import UserErrorException


@pytest.fixture
def ws(home):
    """A workspace in the fresh AMLOCAL_HOME of tests/conftest.py's ``home`` fixture."""
    return Workspace("sub", "rg", "test_ws")


@pytest.fixture
def src(tmp_path):
    root = tmp_path / "src"
    (root / "sub").mkdir(parents=True)
    (root / "a.csv").write_text("a\n1\n")
    (root / "sub" / "b.csv").write_text("b\n2\n")
    return root


@pytest.fixture
def memory_url():
    import fsspec
    name = f"memory://amlocal-test-{uuid.uuid4().hex[:8]}"
    yield name
    fs = fsspec.filesystem("memory")
    root = name[len("memory://"):]
    if fs.exists("/" + root):
        fs.rm("/" + root, recursive=True)


def _store_root(ds):
    from amlocal.datastores.fs import local_path
    from pathlib import Path
    return Path(local_path(ds.url))


def test_upload_keeps_structure_and_returns_data_reference(ws, src, capsys):
    ds = Datastore(ws)
    ref = ds.upload(str(src), target_path="/raw/v1", show_progress=True)
    root = _store_root(ds)
    assert (root / "raw/v1/a.csv").read_text() == "a\n1\n"
    assert (root / "raw/v1/sub/b.csv").read_text() == "b\n2\n"
    assert str(ref).startswith("$AZUREML_DATAREFERENCE_")
    assert ref.path_on_datastore == "/raw/v1"
    assert "Uploaded 2 files" in capsys.readouterr().err
    assert str(ds.upload(str(src), show_progress=False)) == "$AZUREML_DATAREFERENCE_workspaceblobstore"


def test_upload_skips_existing_with_one_warning_and_overwrite_replaces(ws, src):
    ds = Datastore(ws)
    ds.upload(str(src), show_progress=False)
    (src / "a.csv").write_text("changed\n")
    with pytest.warns(UserWarning, match=r"skipped the upload of 2 file\(s\).*overwrite=True") as rec:
        ds.upload(str(src), show_progress=False)
    assert len(rec) == 1
    assert rec[0].filename == __file__  # points at the caller, not at amlocal
    assert (_store_root(ds) / "a.csv").read_text() == "a\n1\n"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds.upload(str(src), overwrite=True, show_progress=False)
    assert (_store_root(ds) / "a.csv").read_text() == "changed\n"


def test_upload_files_relative_root_default_and_explicit(ws, src, tmp_path):
    ds = Datastore(ws)
    ds.upload_files([str(src / "a.csv"), str(src / "sub" / "b.csv")], target_path="files",
                    show_progress=False)
    root = _store_root(ds)
    assert (root / "files/a.csv").exists() and (root / "files/sub/b.csv").exists()
    ds.upload_files([str(src / "sub" / "b.csv")], relative_root=str(tmp_path), target_path="x",
                    show_progress=False)
    assert (root / "x/src/sub/b.csv").exists()
    with pytest.raises(UserErrorException, match="is not a parent of"):
        ds.upload_files([str(src / "a.csv")], relative_root=str(src / "sub"), show_progress=False)
    with pytest.raises(UserErrorException, match="do not exist"):
        ds.upload_files([str(src / "missing.csv")], show_progress=False)


def test_download_prefix_counts_skips_and_overwrites(ws, src, tmp_path):
    ds = Datastore(ws)
    ds.upload(str(src), target_path="data", show_progress=False)
    out = tmp_path / "out"
    assert ds.download(str(out), prefix="data/sub", show_progress=False) == 1
    assert (out / "data/sub/b.csv").read_text() == "b\n2\n"
    assert not (out / "data/a.csv").exists()
    (out / "data/sub/b.csv").write_text("local edit")
    with pytest.warns(UserWarning, match="skipped the download of 1 file"):
        assert ds.download(str(out), prefix="data/", show_progress=False) == 1  # only a.csv
    assert (out / "data/sub/b.csv").read_text() == "local edit"
    assert ds.download(str(out), overwrite=True, show_progress=False) == 2
    assert (out / "data/sub/b.csv").read_text() == "b\n2\n"


@pytest.mark.parametrize("bad", ["../escape", "a/../../b", "C:/windows"])
def test_paths_leaving_the_datastore_are_refused(ws, home, src, tmp_path, bad):
    ds = Datastore(ws)
    with pytest.raises(UserErrorException, match="datastore"):
        ds.upload(str(src), target_path=bad, show_progress=False)
    with pytest.raises(UserErrorException, match="datastore"):
        ds.download(str(tmp_path / "o"), prefix=bad, show_progress=False)
    assert not (home / "datastores" / ws._id / "escape").exists()
    assert not (tmp_path / "escape").exists()


def test_memory_protocol_upload_expand_download(ws, src, tmp_path, memory_url):
    ds = Datastore.register(ws, "mem", memory_url)
    assert ds.datastore_type == "memory"
    ds.upload(str(src), target_path="in", show_progress=False)
    assert expand(memory_url, {}, "in/**/*.csv") == ["in/a.csv", "in/sub/b.csv"]
    assert expand(memory_url, {}, ["in/a.csv", "/in"]) == ["in/a.csv", "in/sub/b.csv"]
    folder = memory_url[len("memory://"):]
    assert expand("memory://", {}, f"{folder}/in/*.csv") == [f"{folder}/in/a.csv"]
    with pytest.warns(UserWarning, match="skipped the upload of 2"):
        upload_dir(memory_url, {}, src, "in", show_progress=False)
    out = tmp_path / "mem-out"
    assert ds.download(str(out), prefix="in", show_progress=False) == 2
    assert (out / "in/sub/b.csv").read_text() == "b\n2\n"


def test_upload_of_a_missing_folder_names_the_fix(ws, tmp_path):
    with pytest.raises(UserErrorException, match="upload_files"):
        Datastore(ws).upload(str(tmp_path / "nope"), show_progress=False)


# -- progress -------------------------------------------------------------------------------------
def _many_files(root, count):
    root.mkdir(parents=True)
    for i in range(count):
        (root / f"f{i:03d}.txt").write_text("x" * 100)
    return root


def test_small_transfers_print_azure_lines_per_file(ws, src, capsys):
    Datastore(ws).upload(str(src), target_path="p", show_progress=True)
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("Uploading an estimated of 2 files")
    assert sum("files out of an estimated total of 2" in line for line in err) == 2
    assert err[-1] == "Uploaded 2 files"


def test_large_transfers_print_few_lines_when_not_a_terminal(ws, tmp_path, capsys, monkeypatch):
    from amlocal.datastores import progress
    monkeypatch.setattr(progress, "LARGE_FILES", 50)   # "large" starts at 50 files here
    src = _many_files(tmp_path / "many", 120)
    ds = Datastore(ws)
    ds.upload(str(src), target_path="big", show_progress=True)
    assert ds.download(str(tmp_path / "back"), prefix="big", show_progress=True) == 120
    err = capsys.readouterr().err.splitlines()
    assert len(err) <= 6, err     # not one line per file
    assert err[0] == "Uploading an estimated of 120 files (11.7 KiB)"
    assert any(line.startswith("Uploaded 120 files (11.7 KiB in ") for line in err)
    assert any(line.startswith("Downloaded 120 files (11.7 KiB in ") for line in err)


def test_a_bar_on_a_terminal_and_none_when_switched_off(ws, tmp_path, capsys, monkeypatch):
    import io
    from amlocal.datastores.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    with Progress("upload", 200, 10_000, True, stream=screen) as bar:
        assert bar.mode == "bar"
        for i in range(200):
            bar.file_done(f"f{i}", 50)
    assert "200/200 files" in screen.getvalue() and "Uploaded 200 files" in screen.getvalue()
    small = Terminal()
    with Progress("upload", 2, 10, True, stream=small) as lines:
        assert lines.mode == "lines"            # small transfers keep Azure's lines
    monkeypatch.setenv("AMLOCAL_PROGRESS", "off")
    Datastore(ws).upload(str(_many_files(tmp_path / "quiet", 3)), show_progress=True)
    assert capsys.readouterr().err == ""


def test_an_output_upload_never_follows_symbolic_links(tmp_path):
    """A step writes its output folders: a link in one to a host file (or folder) uploads
    nothing of it, and the warning names the link."""
    from amlocal.datastores import upload_output
    canary = tmp_path / "host-secret.txt"
    canary.write_text("CANARY-8c1f")
    secret_dir = tmp_path / "host-dir"
    secret_dir.mkdir()
    (secret_dir / "inner.txt").write_text("CANARY-8c1f")
    out = tmp_path / "out"
    out.mkdir()
    (out / "result.txt").write_text("ok")
    (out / "leak.txt").symlink_to(canary)
    (out / "leakdir").symlink_to(secret_dir, target_is_directory=True)
    store = tmp_path / "store"
    store.mkdir()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        upload_output(out, store.as_uri(), {}, "dest", overwrite=True)
    uploaded = sorted(str(p.relative_to(store)) for p in store.rglob("*") if p.is_file())
    assert uploaded == ["dest/result.txt"]
    assert not any("CANARY" in p.read_text() for p in store.rglob("*") if p.is_file())
    assert any("leak.txt" in str(w.message) and "never followed" in str(w.message) for w in caught)
