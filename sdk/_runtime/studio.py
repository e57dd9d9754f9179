"""The runtime of ExecutePythonScriptStep: runs INSIDE the step, as Studio's "Execute Python
Script" module does (contract: ``shared/reference/studio-execute-python-script.md``).

``main(argv)`` is what the generated launcher calls, from the step's working directory:

1. ``MPLBACKEND=Agg`` is set before the user's code is imported (no window is ever opened);
2. the script bundle (a zip) is unpacked into ``./script_bundle/`` (entries that would land
   outside it, ``..``, absolute paths, links, are refused before anything runs) and that folder
   is put first on ``sys.path``;
3. the input tables are read and their index reset to a 0..n-1 int64 RangeIndex;
4. ``azureml_main`` is called with the frames by port position (None for an unconnected port);
5. the returned sequence is checked, its first element translated (index dropped, ``str()``
   column names, duplicate names made unique, NA kept) and written as ``result.parquet``;
6. every ``*.png`` under the working directory (except the bundle) is copied to the python
   device output and uploaded as a run artifact under ``python_device/``; what the script
   printed is teed into the device's ``stdout.txt``.

A failure in the user's code prints its traceback starting at the user's frame (the script is
compiled with its real file name, so the line shows) and makes the step fail (exit status 1).

Only the standard library is imported at module level; pandas inside the functions.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import sys
import traceback
import types
import zipfile
from pathlib import Path, PurePosixPath

USER_SCRIPT = "azureml_user_script.py"
BUNDLE_DIR = "script_bundle"
RESULT_FILE = "result.parquet"
STDOUT_FILE = "stdout.txt"
ARTIFACT_PREFIX = "python_device"
TABLE_SUFFIXES = (".parquet", ".csv", ".tsv")


class StudioUserError(Exception):
    """A mistake in the user's script or inputs, reported without our internals."""


# -- the bundle --------------------------------------------------------------------------------
def _zip_entry_is_link(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def unpack_bundle(zip_path: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Unpack the zip at ``zip_path`` into ``target`` and return it. Every entry is checked
    first: an absolute path, a ``..`` part, a drive letter or a symbolic link raises
    StudioUserError and nothing is written."""
    target = Path(target).resolve()
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise StudioUserError(f"the script bundle {os.fspath(zip_path)!r} is not a readable zip "
                              f"file ({exc}); pass a .zip of your Python modules") from exc
    with archive:
        members = archive.infolist()
        for info in members:
            name = info.filename.replace("\\", "/")
            parts = PurePosixPath(name).parts
            if (name.startswith("/") or ".." in parts or (parts and ":" in parts[0])
                    or not (target / name).resolve().is_relative_to(target)):
                raise StudioUserError(
                    f"the script bundle entry {info.filename!r} would be unpacked outside "
                    f"'{BUNDLE_DIR}/' (zip slip); rebuild the zip with relative paths only")
            if _zip_entry_is_link(info):
                raise StudioUserError(
                    f"the script bundle entry {info.filename!r} is a symbolic link; links are "
                    "refused (zip slip): put the file itself in the zip")
        target.mkdir(parents=True, exist_ok=True)
        for info in members:
            archive.extract(info, target)
    return target


def find_bundle(path: str) -> str:
    """The zip file a bundle argument names: the path itself, or the single ``.zip`` in a
    folder (a FileDataset input)."""
    if os.path.isdir(path):
        zips = sorted(str(p) for p in Path(path).rglob("*.zip"))
        if len(zips) != 1:
            raise StudioUserError(
                f"the script bundle dataset holds {len(zips)} .zip files ({', '.join(zips) or 'none'}); "
                "it must hold exactly one")
        return zips[0]
    if not os.path.isfile(path):
        raise StudioUserError(f"the script bundle {path!r} does not exist")
    return path


def install_bundle(path: str, workdir: str | os.PathLike = ".") -> Path:
    """Unpack the bundle into ``workdir/script_bundle`` and put that folder first on sys.path."""
    folder = unpack_bundle(find_bundle(path), Path(workdir) / BUNDLE_DIR)
    sys.path.insert(0, str(folder))
    return folder


# -- tables in -------------------------------------------------------------------------------
def read_table_folder(path: str):
    """A pandas DataFrame from a folder (or file) of Parquet files, else CSV/TSV files, read in
    sorted path order and concatenated."""
    import pandas as pd
    root = Path(path)
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    parquet = [p for p in files if p.suffix == ".parquet"]
    delimited = [p for p in files if p.suffix in (".csv", ".tsv")]
    if parquet:
        frames = [pd.read_parquet(p) for p in parquet]
    elif delimited:
        frames = [pd.read_csv(p, sep="\t" if p.suffix == ".tsv" else ",") for p in delimited]
    else:
        raise StudioUserError(
            f"input {path!r} holds no table: expected .parquet or .csv files, found "
            f"{', '.join(p.name for p in files[:10]) or 'no files'}")
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def read_tabular(path: str, spec: dict):
    """A TabularDataset's files (downloaded to ``path``) read with its reader settings."""
    from amlocal.data.tabular_dataset import TabularDataset
    url = f"file://{path}" if os.path.isfile(path) else f"file://{path.rstrip('/')}/**/*"
    definition = {"schema_version": 1, "type": "TabularDataset", "sources": [{"url": url}],
                  "reader": spec["reader"], "partition_format": spec.get("partition_format"),
                  "transforms": spec.get("transforms") or []}
    return TabularDataset(definition, None).to_pandas_dataframe()


def read_input(value: str, kind: str):
    """One input port: ``kind`` is ``folder`` (a table folder), ``direct`` (a tabular dataset of
    the run, ``value`` is its input name) or the JSON reader settings of a TabularDataset."""
    if kind == "folder":
        frame = read_table_folder(value)
    elif kind.startswith("direct:"):
        from amlocal import _context
        name = kind[len("direct:"):]
        bound = os.environ.get(f"AMLOCAL_DATASET_DEFINITION_{name}")
        if bound and _context.job_context() is None:   # a service's worker: no run
            frame = _read_bound(json.loads(bound))
        else:
            from amlocal.core.run import Run
            frame = Run.get_context().input_datasets[name].to_pandas_dataframe()
    else:
        frame = read_tabular(value, json.loads(kind))
    return prepare_input(frame)


def _read_bound(definition: dict):
    """A direct input read from the copy the host bound for it (its ``"bound"`` entry), where no
    run answers ``input_datasets`` (a pipeline web service's worker)."""
    from amlocal.data.abstract_dataset import Dataset
    bound = definition.get("bound") or {}
    entries = bound.get("sources") or []
    definition = {k: v for k, v in definition.items() if k != "bound"}
    if bound.get("root") and entries and all(entries):
        root = bound["root"].rstrip("/")
        definition["sources"] = [{"url": f"file://{root}/{e['pattern']}".rstrip("/")}
                                 for e in entries]
    return Dataset._from_definition(definition).to_pandas_dataframe()


def prepare_input(frame):
    """The frame as the script sees it: a 0..n-1 int64 RangeIndex, values (and NA) unchanged."""
    return frame.reset_index(drop=True)


# -- calling the script ------------------------------------------------------------------------
def load_user_module(path: str | os.PathLike) -> types.ModuleType:
    """Import the user's script as module ``azureml_user_script``, compiled with its real file
    name so tracebacks show its lines."""
    path = os.path.abspath(path)
    source = Path(path).read_text(encoding="utf-8")
    module = types.ModuleType("azureml_user_script")
    module.__file__ = path
    sys.modules[module.__name__] = module
    exec(compile(source, path, "exec"), module.__dict__)  # noqa: S102 - the user's own script
    if not callable(getattr(module, "azureml_main", None)):
        raise StudioUserError("the script defines no function azureml_main; define "
                              "`def azureml_main(dataframe1=None, dataframe2=None):`")
    return module


def call_azureml_main(func, dataframe1=None, dataframe2=None):
    """Call ``azureml_main`` by port position: frames are passed positionally, None for an
    unconnected port (only dataframe2 connected: ``azureml_main(None, dataframe2)``). Trailing
    unconnected ports are left out, so ``def azureml_main(df):`` works with one input."""
    args = [dataframe1, dataframe2]
    while args and args[-1] is None:
        args.pop()
    return func(*args)


def check_result(result):
    """The DataFrame a return value carries: it must be a tuple, list or NumPy array whose first
    element is a pandas DataFrame. Raises StudioUserError saying what came back otherwise."""
    import pandas as pd
    expected = "return a sequence whose first element is a pandas DataFrame, e.g. `return df,`"
    kind = type(result).__name__
    if not (isinstance(result, (tuple, list)) or kind == "ndarray"):
        raise StudioUserError(f"azureml_main returned {kind}; {expected}")
    if len(result) == 0:
        raise StudioUserError(f"azureml_main returned an empty {kind}; {expected}")
    first = result[0]
    if not isinstance(first, pd.DataFrame):
        raise StudioUserError(
            f"azureml_main returned a {kind} whose first element is {type(first).__name__}; "
            f"{expected}")
    return first


# -- tables out ------------------------------------------------------------------------------
def unique_names(names) -> list[str]:
    """Column names as unique strings: ``str()`` of each; the 2nd occurrence of a name gets
    ``' (2)'`` appended (one space, the number in parentheses), the 3rd ``' (3)'`` and so on;
    a generated name that is already taken moves on to the next number."""
    texts = [str(n) for n in names]
    taken = set(texts)
    seen: dict[str, int] = {}
    result = []
    for text in texts:
        count = seen.get(text, 0) + 1
        seen[text] = count
        if count == 1:
            result.append(text)
            continue
        candidate = f"{text} ({count})"
        while candidate in taken:
            count += 1
            candidate = f"{text} ({count})"
        seen[text] = count
        taken.add(candidate)
        result.append(candidate)
    return result


def translate_output(frame):
    """The frame as output 1 stores it: index dropped, unique string column names, NA kept."""
    out = frame.reset_index(drop=True)
    out.columns = unique_names(out.columns)
    return out


def write_result(frame, folder: str | os.PathLike) -> Path:
    """Write the translated frame as ``folder/result.parquet``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / RESULT_FILE
    try:
        translate_output(frame).to_parquet(target, index=False)
    except Exception as exc:  # noqa: BLE001 - pyarrow's many conversion errors
        raise StudioUserError(
            f"the returned DataFrame cannot be stored as Parquet ({type(exc).__name__}: {exc}); "
            "give each column one type (e.g. convert mixed columns with .astype(str), or store "
            "objects as pickle.dumps(...) bytes)") from exc
    return target


# -- the python device -------------------------------------------------------------------------
def collect_images(workdir: str | os.PathLike, device: str | os.PathLike) -> list[str]:
    """Copy every ``*.png`` under ``workdir`` (except the unpacked bundle) to ``device``,
    keeping relative paths; return them (sorted)."""
    workdir, device = Path(workdir).resolve(), Path(device).resolve()
    skip = [workdir / BUNDLE_DIR, device]
    found = []
    for path in sorted(workdir.rglob("*")):
        if path.suffix.lower() != ".png" or not path.is_file() or path.is_symlink():
            continue
        if any(path.resolve().is_relative_to(s) for s in skip):
            continue
        rel = path.relative_to(workdir).as_posix()
        dest = device / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
        found.append(rel)
    return found


GALLERY_FILE = "index.html"


def write_gallery(device: str | os.PathLike, images: list[str]) -> Path | None:
    """With several images, ``index.html`` in the device output shows them together, one under
    the other (Studio concatenates them for display); each is embedded, so the page stands alone."""
    if len(images) < 2:
        return None
    import base64
    import html
    parts = []
    for rel in images:
        data = base64.b64encode((Path(device) / rel).read_bytes()).decode()
        parts.append(f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(rel)}">'
                     f"<figcaption>{html.escape(rel)}</figcaption></figure>")
    page = Path(device) / GALLERY_FILE
    page.write_text("<!doctype html><meta charset=utf-8><title>python device</title>"
                    "<body style='font-family:sans-serif'>" + "".join(parts) + "</body>")
    return page


def upload_images(device: str | os.PathLike, images: list[str], run=None) -> None:
    """Upload the images (and, for several, the page showing them together) as artifacts
    ``python_device/<path>`` of the run."""
    if run is None:
        from amlocal.core.run import Run
        run = Run.get_context()
    gallery = write_gallery(device, images)
    for rel in images + ([GALLERY_FILE] if gallery else []):
        run.upload_file(f"{ARTIFACT_PREFIX}/{rel}", str(Path(device) / rel))


class Tee:
    """A text stream writing to the original stream and a file."""

    def __init__(self, stream, path: str | os.PathLike):
        self._stream = stream
        self._file = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed by close()

    def write(self, text: str) -> int:
        self._stream.write(text)
        self._file.write(text)
        return len(text)

    def flush(self) -> None:
        self._stream.flush()
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __getattr__(self, name):
        return getattr(self._stream, name)


# -- the command -------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="amlocal-execute-python-script")
    parser.add_argument("--script", default=USER_SCRIPT)
    for port in ("dataframe1", "dataframe2"):
        parser.add_argument(f"--{port}")
        parser.add_argument(f"--{port}-kind", default="folder")
    parser.add_argument("--bundle")
    parser.add_argument("--result", required=True)
    parser.add_argument("--device", required=True)
    return parser


def _print_user_traceback(exc: BaseException, script: str) -> None:
    """The traceback from the user's first frame on (our frames are not the user's concern)."""
    tb = exc.__traceback__
    script = os.path.abspath(script)
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename) != script:
        tb = tb.tb_next
    print("Error in the Execute Python Script step's azureml_main:", file=sys.stderr)
    traceback.print_exception(type(exc), exc, tb or exc.__traceback__, file=sys.stderr)


def main(argv: list[str] | None = None, *, workdir: str | os.PathLike = ".", run=None) -> int:
    """Run the module; returns the exit status (0 ok, 1 the script or its inputs failed)."""
    os.environ["MPLBACKEND"] = "Agg"
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    Path(args.device).mkdir(parents=True, exist_ok=True)
    tee = Tee(sys.stdout, Path(args.device) / STDOUT_FILE)
    real_stdout, sys.stdout = sys.stdout, tee
    try:
        try:
            if args.bundle:
                install_bundle(args.bundle, workdir)
            frames = [read_input(v, k) if v else None for v, k in
                      ((args.dataframe1, args.dataframe1_kind), (args.dataframe2, args.dataframe2_kind))]
        except StudioUserError as exc:
            print(f"Error: {exc}", file=sys.stderr)
            return 1
        try:
            module = load_user_module(Path(workdir) / args.script)
            result = call_azureml_main(module.azureml_main, *frames)
        except StudioUserError as exc:
            print(f"Error: {exc}", file=sys.stderr)
            return 1
        except Exception as exc:  # noqa: BLE001 - the user's error: show it as Python would
            _print_user_traceback(exc, str(Path(workdir) / args.script))
            return 1
        try:
            write_result(check_result(result), args.result)
        except StudioUserError as exc:
            print(f"Error: {exc}", file=sys.stderr)
            return 1
        sys.stdout.flush()
        images = collect_images(workdir, args.device)
        upload_images(args.device, images, run)
        return 0
    finally:
        sys.stdout = real_stdout
        tee.flush()
        tee.close()
