"""The Execute Python Script runtime's rules, one by one, on real frames, zips and files."""
from __future__ import annotations

import os
import stat
import sys
import textwrap
import zipfile

import numpy as np
import pandas as pd
import pytest

from amlocal._runtime import studio


def test_inputs_get_a_0_to_n_int64_range_index_and_keep_na():
    frame = pd.DataFrame({"a": [1.0, None, 3.0], "s": ["x", None, "z"]}, index=[10, 5, 7])
    out = studio.prepare_input(frame)
    assert isinstance(out.index, pd.RangeIndex) and out.index.dtype == np.int64
    assert list(out.index) == [0, 1, 2]
    assert out["a"].isna().tolist() == [False, True, False]
    assert out["s"].isna().tolist() == [False, True, False]


def test_table_folders_are_read_from_parquet_then_csv_with_na(tmp_path):
    pq = tmp_path / "pq"
    (pq / "part").mkdir(parents=True)
    pd.DataFrame({"x": [1, None]}).to_parquet(pq / "a.parquet")
    pd.DataFrame({"x": [3.0]}).to_parquet(pq / "part" / "b.parquet")
    frame = studio.read_input(str(pq), "folder")
    assert frame["x"].tolist()[0] == 1 and pd.isna(frame["x"][1]) and frame["x"][2] == 3
    assert list(frame.index) == [0, 1, 2]
    csv = tmp_path / "csv"
    csv.mkdir()
    (csv / "t.csv").write_text("a,b\n1,\n2,y\n")
    frame = studio.read_input(str(csv), "folder")
    assert frame["a"].tolist() == [1, 2] and pd.isna(frame["b"][0]) and frame["b"][1] == "y"
    (tmp_path / "empty").mkdir()
    with pytest.raises(studio.StudioUserError, match="holds no table"):
        studio.read_table_folder(str(tmp_path / "empty"))


def test_a_tabular_dataset_spec_is_read_with_its_reader_settings(tmp_path):
    folder = tmp_path / "dl"
    folder.mkdir()
    (folder / "rows.csv").write_text("n,t\n1,a\n2,\n3,c\n")
    spec = ('{"reader": {"format": "delimited", "separator": ",", "header": true, '
            '"encoding": "utf8", "infer_column_types": true, "set_column_types": {"n": "float64"}, '
            '"include_path": false, "support_multi_line": false, "empty_as_string": false}, '
            '"partition_format": null, "transforms": [{"take": 2}]}')
    frame = studio.read_input(str(folder), spec)
    assert frame["n"].dtype == np.float64 and frame["n"].tolist() == [1.0, 2.0]
    assert pd.isna(frame["t"][1])


def test_output_drops_the_index_strs_names_and_numbers_duplicates():
    frame = pd.DataFrame([[1, 2, 3, 4, None]], index=[42])
    frame.columns = ["a", 0, "a", "a", "a (2)"]
    out = studio.translate_output(frame)
    assert list(out.columns) == ["a", "0", "a (3)", "a (4)", "a (2)"]
    assert list(out.index) == [0]
    assert studio.unique_names(["x", "x", "x", 1, 1]) == ["x", "x (2)", "x (3)", "1", "1 (2)"]


def test_result_parquet_keeps_na_and_has_no_index(tmp_path):
    frame = pd.DataFrame({"v": [1.5, None], "s": ["a", None], 7: [1, 2]}, index=["p", "q"])
    path = studio.write_result(frame, tmp_path / "result")
    assert path.name == "result.parquet"
    back = pd.read_parquet(path)
    assert list(back.columns) == ["v", "s", "7"]
    assert isinstance(back.index, pd.RangeIndex)
    assert pd.isna(back["v"][1]) and pd.isna(back["s"][1]) and back["v"][0] == 1.5
    assert back["s"][0] == "a" and back["7"].tolist() == [1, 2]


@pytest.mark.parametrize("value, words", [
    (5, "azureml_main returned int; return a sequence whose first element is a pandas DataFrame"),
    (None, "azureml_main returned NoneType"),
    ("frame", "azureml_main returned str"),
    ((), "returned an empty tuple"),
    ([3], "returned a list whose first element is int"),
])
def test_return_values_that_are_not_a_sequence_starting_with_a_frame_are_refused(value, words):
    with pytest.raises(studio.StudioUserError) as info:
        studio.check_result(value)
    assert words in str(info.value) and "`return df,`" in str(info.value)


def test_a_bare_dataframe_is_refused_and_sequences_are_accepted():
    df = pd.DataFrame({"a": [1]})
    with pytest.raises(studio.StudioUserError, match="returned DataFrame"):
        studio.check_result(df)
    assert studio.check_result((df,)) is df
    assert studio.check_result([df, "extra"]) is df
    arr = np.empty(1, dtype=object)
    arr[0] = df
    assert studio.check_result(arr) is df


def test_frames_map_to_parameters_by_port_position():
    seen = []

    def azureml_main(dataframe1=None, dataframe2=None):
        seen.append((dataframe1, dataframe2))

    studio.call_azureml_main(azureml_main, None, "two")
    studio.call_azureml_main(azureml_main, "one")
    studio.call_azureml_main(lambda df: seen.append(df), "only")
    assert seen == [(None, "two"), ("one", None), "only"]


def _zip(path, entries: dict, links=()):
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in entries.items():
            zf.writestr(name, text)
        for name, target in links:
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


@pytest.mark.parametrize("entries, links, words", [
    ({"../evil.py": "x = 1"}, (), "zip slip"),
    ({"ok/../../evil.py": "x = 1"}, (), "zip slip"),
    ({"/tmp/evil.py": "x = 1"}, (), "zip slip"),
    ({"fine.py": "x = 1"}, [("link.py", "/etc/passwd")], "symbolic link"),
])
def test_zip_slip_entries_are_refused_before_anything_is_written(tmp_path, entries, links, words):
    bundle = _zip(tmp_path / "b.zip", entries, links)
    target = tmp_path / "wd" / "script_bundle"
    with pytest.raises(studio.StudioUserError, match=words):
        studio.unpack_bundle(bundle, target)
    assert not target.exists()
    assert not (tmp_path / "evil.py").exists()


def test_a_bundle_is_unpacked_into_script_bundle_and_importable(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "hello_bundle_mod", raising=False)
    bundle = _zip(tmp_path / "b.zip", {"hello_bundle_mod.py": "def hi(n):\n    return f'hi {n}'\n",
                                       "data/notes.txt": "n"})
    wd = tmp_path / "wd"
    wd.mkdir()
    folder = studio.install_bundle(str(bundle), wd)
    assert folder == (wd / "script_bundle").resolve()
    assert (folder / "data" / "notes.txt").read_text() == "n"
    import hello_bundle_mod
    assert hello_bundle_mod.hi(3) == "hi 3"


def _run_main(tmp_path, code, *extra, bundle=None):
    wd = tmp_path / "wd"
    wd.mkdir(exist_ok=True)
    (wd / studio.USER_SCRIPT).write_text(textwrap.dedent(code))
    uploaded = []

    class FakeRun:  # the run service is not there in a unit test; record what is uploaded
        def upload_file(self, name, path):
            uploaded.append((name, open(path, "rb").read()))

    argv = ["--result", str(tmp_path / "result"), "--device", str(tmp_path / "device"), *extra]
    if bundle:
        argv += ["--bundle", bundle]
    cwd = os.getcwd()
    os.chdir(wd)
    try:
        code = studio.main(argv, workdir=wd, run=FakeRun())
    finally:
        os.chdir(cwd)
    return code, uploaded


def test_main_runs_the_script_with_agg_and_captures_images_and_stdout(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MPLBACKEND", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    data = tmp_path / "in"
    data.mkdir()
    pd.DataFrame({"x": [1, 2]}, index=[8, 9]).to_parquet(data / "t.parquet")
    bundle = _zip(tmp_path / "b.zip", {"helper_mod_main.py": "K = 10\n", "pic.png": "not me"})
    code, uploaded = _run_main(tmp_path, """
        import os
        import pandas as pd
        import helper_mod_main
        def azureml_main(dataframe1=None, dataframe2=None):
            print("BACKEND", os.environ["MPLBACKEND"], "D2", dataframe2)
            os.makedirs("plots", exist_ok=True)
            open("a.png", "wb").write(b"A")
            open("plots/b.png", "wb").write(b"B")
            out = dataframe1 * helper_mod_main.K
            out["idx"] = dataframe1.index
            return out,
    """, "--dataframe1", str(data), bundle=str(bundle))
    assert code == 0
    assert "BACKEND Agg D2 None" in capsys.readouterr().out
    result = pd.read_parquet(tmp_path / "result" / "result.parquet")
    assert result.to_dict("list") == {"x": [10, 20], "idx": [0, 1]}
    device = tmp_path / "device"
    assert (device / "stdout.txt").read_text().startswith("BACKEND Agg D2 None")
    assert (device / "a.png").read_bytes() == b"A" and (device / "plots" / "b.png").read_bytes() == b"B"
    assert not (device / "script_bundle").exists()
    assert uploaded[:2] == [("python_device/a.png", b"A"), ("python_device/plots/b.png", b"B")]
    assert uploaded[2][0] == "python_device/index.html"  # two images: shown together on one page
    assert uploaded[2][1].count(b"<img") == 2


def test_a_failing_script_prints_its_own_traceback_line_and_fails(tmp_path, capsys):
    code, _ = _run_main(tmp_path, """
        def azureml_main(dataframe1=None, dataframe2=None):
            x = 1
            raise ValueError("bad value in my script")
    """)
    err = capsys.readouterr().err
    assert code == 1
    assert f'{studio.USER_SCRIPT}", line 4, in azureml_main' in err
    assert 'raise ValueError("bad value in my script")' in err
    assert "ValueError: bad value in my script" in err
    assert "studio.py" not in err


def test_a_wrong_return_value_fails_with_a_clear_message(tmp_path, capsys):
    code, _ = _run_main(tmp_path, "def azureml_main(a=None, b=None):\n    return 42\n")
    assert code == 1
    assert "azureml_main returned int; return a sequence whose first element" in capsys.readouterr().err
    assert not (tmp_path / "result" / "result.parquet").exists()


def test_several_images_are_shown_together_on_one_page(tmp_path):
    import base64
    from amlocal._runtime.studio import write_gallery
    (tmp_path / "a.png").write_bytes(b"\x89PNG-a")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.png").write_bytes(b"\x89PNG-b")
    assert write_gallery(tmp_path, ["a.png"]) is None  # one image needs no page
    page = write_gallery(tmp_path, ["a.png", "sub/b.png"]).read_text()
    assert page.count("<img") == 2
    assert base64.b64encode(b"\x89PNG-b").decode() in page and "sub/b.png" in page
