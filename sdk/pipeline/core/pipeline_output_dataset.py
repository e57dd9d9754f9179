"""A step's PipelineData promoted to a dataset (``azureml.pipeline.core.pipeline_output_dataset``):
``PipelineData.as_dataset()`` gives a PipelineOutputFileDataset; ``parse_delimited_files()`` /
``parse_parquet_files()`` on it give a PipelineOutputTabularDataset that the next step reads
directly (``run.input_datasets[name].to_pandas_dataframe()``).
"""
from __future__ import annotations


class DatasetRegistration:
    """``DatasetRegistration(name, create_new_version)``: how an output is registered."""

    def __init__(self, name: str, create_new_version: bool = True):
        self._name = name
        self._create_new_version = create_new_version

    @property
    def name(self) -> str:
        return self._name

    @property
    def create_new_version(self) -> bool:
        return self._create_new_version


class PipelineOutputAbstractDataset:
    """The base of PipelineOutputFileDataset and PipelineOutputTabularDataset: a PipelineData
    consumed as a dataset by later steps, under ``input_name`` (default: the output's name)."""

    _mode = "mount"

    def __init__(self, data, input_name: str | None = None, mode: str | None = None,
                 path_on_compute: str | None = None):
        self._data = data
        self._input_name = input_name or data.name
        self._mode = mode or type(self)._mode
        self._path_on_compute = path_on_compute

    @property
    def _pipeline_data(self):
        return self._data

    @property
    def name(self) -> str:
        return self._input_name

    @property
    def input_name(self) -> str:
        return self._input_name

    @property
    def _producer(self):
        return self._data._producer

    def _set_producer(self, step) -> None:
        self._data._set_producer(step)

    def register(self, name: str, create_new_version: bool = True, description: str | None = None,
                 tags: dict | None = None):
        """Register the output folder as dataset ``name`` (a new version each run) when the
        producing step completes (the object must be in that step's ``outputs``)."""
        self._data._registration = {"name": name, "description": description, "tags": dict(tags or {})}
        return self

    def as_named_input(self, name: str):
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__dict__)
        copy._input_name = name
        return copy

    def _binding(self, mode: str | None = None, path_on_compute: str | None = None):
        return self._data._dataset_binding(self._input_name, mode or self._mode,
                                           path_on_compute or self._path_on_compute)

    create_input_binding = _binding

    def __str__(self) -> str:
        return f"$AZUREML_DATAREFERENCE_{self._input_name}"


class PipelineOutputFileDataset(PipelineOutputAbstractDataset):
    """``PipelineData.as_dataset()``: the producer's output folder as a FileDataset."""

    def as_mount(self, path_on_compute: str | None = None):
        return self._binding("mount", path_on_compute)

    def as_download(self, path_on_compute: str | None = None):
        return self._binding("download", path_on_compute)

    def as_direct(self):
        return self._binding("direct")

    def parse_delimited_files(self, include_path: bool = False, separator: str = ",",
                              header: bool = True, partition_format: str | None = None,
                              file_extension: str = "", set_column_types: dict | None = None,
                              quoted_line_breaks: bool = False) -> "PipelineOutputTabularDataset":
        """The output read as a TabularDataset of its delimited files (those ending with
        ``file_extension``, default every file). Raises UserErrorException when ``header`` is
        not True or False (amlocal reads a header line or none)."""
        from ...data.tabular_dataset import reader_types
        from ...errors import UserErrorException
        if not isinstance(header, bool):
            raise UserErrorException("header must be True (first line has column names) or False")
        reader = {"format": "delimited", "separator": separator, "header": header,
                  "encoding": "utf8", "infer_column_types": True,
                  "set_column_types": reader_types(set_column_types),
                  "include_path": bool(include_path), "support_multi_line": bool(quoted_line_breaks),
                  "empty_as_string": False}
        return PipelineOutputTabularDataset(self, reader, f"**/*{file_extension or ''}",
                                            partition_format)

    def parse_parquet_files(self, include_path: bool = False, partition_format: str | None = None,
                            file_extension: str = ".parquet",
                            set_column_types: dict | None = None) -> "PipelineOutputTabularDataset":
        """The output read as a TabularDataset of its Parquet files."""
        from ...data.tabular_dataset import reader_types
        reader = {"format": "parquet", "include_path": bool(include_path),
                  "set_column_types": reader_types(set_column_types)}
        return PipelineOutputTabularDataset(self, reader, f"**/*{file_extension or ''}",
                                            partition_format)


class PipelineOutputTabularDataset(PipelineOutputAbstractDataset):
    """A PipelineData read as a TabularDataset by the steps that take it as an input (direct
    mode: ``run.input_datasets[input_name]`` is the TabularDataset)."""

    _mode = "direct"

    def __init__(self, files: PipelineOutputFileDataset, reader: dict, glob: str,
                 partition_format: str | None):
        super().__init__(files._data, files._input_name, "direct")
        self._reader = reader
        self._glob = glob
        self._partition_format = partition_format

    def _binding(self, mode: str | None = None, path_on_compute: str | None = None):
        binding = super()._binding("direct")
        binding._reader = {"reader": self._reader, "glob": self._glob,
                           "partition_format": self._partition_format}
        return binding

    create_input_binding = _binding

    def keep_columns(self, columns) -> "PipelineOutputTabularDataset":
        """The output read with only ``columns`` (a name or a list) by the consuming step."""
        from ...data._transforms import check_columns
        return self._with_transform({"keep_columns": check_columns(columns, "keep_columns")})

    def drop_columns(self, columns) -> "PipelineOutputTabularDataset":
        """The output read without ``columns`` (a name or a list) by the consuming step."""
        from ...data._transforms import check_columns
        return self._with_transform({"drop_columns": check_columns(columns, "drop_columns")})

    def random_split(self, percentage: float, seed: int | None = None) -> tuple:
        """Two tables read from the output: about ``percentage`` of its rows and the others
        (seeded, so the two partition the rows; give each its own name with
        ``as_named_input``)."""
        from ...data._transforms import check_probability, check_seed
        spec = {"percentage": check_probability(percentage, "percentage"),
                "seed": check_seed(seed)}
        return (self._with_transform({"random_split": {**spec, "part": 0}}),
                self._with_transform({"random_split": {**spec, "part": 1}}))

    def _with_transform(self, step: dict) -> "PipelineOutputTabularDataset":
        """A copy read with ``step`` applied after the others. The transformations travel in
        the reader settings (``reader["transforms"]``), the part of the table that reaches the
        consuming step."""
        import copy
        result = object.__new__(type(self))
        result.__dict__.update(self.__dict__)
        result._reader = copy.deepcopy(self._reader)
        result._reader.setdefault("transforms", []).append(step)
        return result
