"""Tables written to files and frames of other libraries: ``TabularDataset.to_csv_files`` /
``to_parquet_files`` / ``to_dask_dataframe`` / ``to_spark_dataframe`` and
``TabularDatasetFactory.register_pandas_dataframe`` / ``register_dask_dataframe``.

pandas, pyarrow, dask and pyspark are imported when a function runs.
"""
from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

from ..errors import UserErrorException

# Where to_csv_files / to_parquet_files write, in the workspace's default datastore.
CONVERTED_FOLDER = "amlocal-converted"


def materialize(dataset, fmt: str, separator: str):
    """Read ``dataset`` and write its rows as one file (``part-00000.csv`` or ``.parquet``);
    return the FileDataset of it.

    Deliberate difference: Azure converts lazily, when the files are read. Here the file is
    written at once: for a dataset of a workspace into that workspace's default datastore at
    ``amlocal-converted/<dataset id>/<format>/`` (replaced when converted again, so the same
    rows give the same FileDataset), for one without a workspace (URL sources only) into a new
    temporary folder.
    """
    from .abstract_dataset import Dataset
    frame = dataset.to_pandas_dataframe()
    name = "part-00000." + ("csv" if fmt == "csv" else "parquet")
    with tempfile.TemporaryDirectory(prefix="amlocal-convert-") as tmp:
        path = Path(tmp) / name
        _write(frame, path, fmt, separator)
        workspace = dataset._workspace
        if workspace is None:
            folder = Path(tempfile.mkdtemp(prefix="amlocal-converted-"))
            target = folder / name
            target.write_bytes(path.read_bytes())
            return Dataset.File.from_files(str(target))
        suffix = "csv" if fmt == "csv" and separator == "," else \
            f"csv-{ord(separator):x}" if fmt == "csv" else "parquet"
        rel = f"{CONVERTED_FOLDER}/{dataset.id}/{suffix}"
        datastore = workspace.get_default_datastore()
        datastore.upload_files([str(path)], relative_root=tmp, target_path=rel, overwrite=True,
                               show_progress=False)
        return Dataset.File.from_files((datastore, f"{rel}/{name}"))


def _write(frame, path: Path, fmt: str, separator: str) -> None:
    try:
        if fmt == "csv":
            frame.to_csv(path, sep=separator, index=False)
        else:
            _plain_columns(frame).to_parquet(path, index=False, engine="pyarrow")
    except ImportError as exc:
        raise UserErrorException(f"writing Parquet needs pyarrow: pip install pyarrow ({exc})") from exc


def _plain_columns(frame):
    """The frame with text column names (Parquet needs them), as Azure's sanitising does."""
    if all(isinstance(c, str) for c in frame.columns):
        return frame
    renamed = frame.copy()
    renamed.columns = [str(c) for c in frame.columns]
    return renamed


def _need(module: str, package: str, what: str):
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserErrorException(f"{what} needs {package}: pip install {package}") from None


def to_dask(dataset, sample_size, dtypes, on_error, out_of_range_datetime):
    """See ``TabularDataset.to_dask_dataframe``."""
    dd = _need("dask.dataframe", "dask", "to_dask_dataframe")
    if isinstance(sample_size, bool) or not isinstance(sample_size, int) or sample_size < 1:
        raise UserErrorException(f"sample_size must be a whole number >= 1, not {sample_size!r}")
    if dtypes is not None and not isinstance(dtypes, dict):
        raise UserErrorException("dtypes must be a dict of column name -> type, or None")
    frame = dataset.to_pandas_dataframe(on_error, out_of_range_datetime)
    if dtypes:
        missing = [c for c in dtypes if c not in frame.columns]
        if missing:
            raise UserErrorException(f"dtypes names column(s) {missing}, which the data does not "
                                     f"have; columns: {', '.join(map(str, frame.columns))}")
        frame = frame.astype(dtypes)
    return dd.from_pandas(frame, chunksize=max(sample_size, 1))


def to_spark(dataset):
    """See ``TabularDataset.to_spark_dataframe``."""
    sql = _need("pyspark.sql", "pyspark", "to_spark_dataframe")
    session = sql.SparkSession.getActiveSession() or sql.SparkSession.builder.getOrCreate()
    return session.createDataFrame(dataset.to_pandas_dataframe())


def register_pandas(dataframe, target, name, description, tags, show_progress,
                    row_group_size, make_target_path_unique):
    """See ``TabularDatasetFactory.register_pandas_dataframe``."""
    import pandas as pd
    from ._dataset_sources import _target
    from .abstract_dataset import Dataset
    say = print if show_progress else (lambda *_args: None)
    say("Validating arguments.")
    if not isinstance(dataframe, pd.DataFrame):
        raise UserErrorException(f"dataframe must be a pandas DataFrame, not {type(dataframe).__name__}")
    _check_name(name)
    if row_group_size is not None and (isinstance(row_group_size, bool)
                                       or not isinstance(row_group_size, int) or row_group_size < 1):
        raise UserErrorException(f"row_group_size must be a whole number >= 1 or None, not "
                                 f"{row_group_size!r}")
    datastore, folder = _target(target)
    say("Arguments validated.")
    rel = _folder(folder, make_target_path_unique, say)
    with tempfile.TemporaryDirectory(prefix="amlocal-frame-") as tmp:
        path = Path(tmp) / "dataframe.parquet"
        try:
            _plain_columns(dataframe).to_parquet(path, row_group_size=row_group_size,
                                                 engine="pyarrow")
        except ImportError as exc:
            raise UserErrorException(f"writing Parquet needs pyarrow: pip install pyarrow ({exc})") from exc
        datastore.upload_files([str(path)], relative_root=tmp, target_path=rel, overwrite=True,
                               show_progress=show_progress)
    say("Successfully uploaded file to datastore.")
    return _register(Dataset.Tabular.from_parquet_files((datastore, f"{rel}/dataframe.parquet")),
                     datastore, name, description, tags, say)


def register_dask(dataframe, target, name, description, tags, show_progress):
    """See ``TabularDatasetFactory.register_dask_dataframe``."""
    dd = _need("dask.dataframe", "dask", "register_dask_dataframe")
    from ._dataset_sources import _target
    from .abstract_dataset import Dataset
    say = print if show_progress else (lambda *_args: None)
    say("Validating arguments.")
    if not isinstance(dataframe, dd.DataFrame):
        raise UserErrorException(f"dataframe must be a dask DataFrame, not {type(dataframe).__name__}")
    _check_name(name)
    datastore, folder = _target(target)
    say("Arguments validated.")
    rel = _folder(folder, True, say)
    with tempfile.TemporaryDirectory(prefix="amlocal-dask-") as tmp:
        dataframe.to_parquet(tmp)
        files = sorted(str(p) for p in Path(tmp).rglob("*.parquet"))
        if not files:
            raise UserErrorException("the dask DataFrame wrote no Parquet file; does it have "
                                     "partitions?")
        say(f"Uploading file to {rel}")
        datastore.upload_files(files, relative_root=tmp, target_path=rel, overwrite=True,
                               show_progress=show_progress)
    return _register(Dataset.Tabular.from_parquet_files((datastore, f"{rel}/**/*.parquet")),
                     datastore, name, description, tags, say)


def _check_name(name) -> None:
    if not isinstance(name, str):
        raise UserErrorException(f"name must be a string, not {type(name).__name__}")


def _folder(folder: str, unique: bool, say) -> str:
    rel = "/".join(p for p in (folder, str(uuid.uuid4()) if unique else "") if p)
    if not rel:
        raise UserErrorException("the target is the datastore's root and make_target_path_unique "
                                 "is False; give a folder, e.g. (datastore, 'frames/sales')")
    if not unique:
        say(f"Using target path without unique subfolder: {rel}/.")
    return rel


def _register(dataset, datastore, name, description, tags, say):
    say("Creating and registering a new dataset.")
    registered = dataset.register(datastore.workspace, name, description=description, tags=tags,
                                  create_new_version=True)
    say("Successfully created and registered a new dataset.")
    return registered
