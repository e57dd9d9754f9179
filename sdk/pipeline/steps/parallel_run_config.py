"""ParallelRunConfig (``azureml.pipeline.steps.parallel_run_config``): how a ParallelRunStep
splits its input into mini-batches and processes them.

Validation follows Azure's client (ValueError with the reason), plus two checks Azure leaves to
its service and amlocal makes before anything runs: ``node_count`` must be a whole number >= 1 (or
a PipelineParameter), and ``environment_variables`` must be a dict. ``save_to_yaml`` also keeps
``allowed_failed_count`` and ``allowed_failed_percent`` (Azure's drops them).
"""
from __future__ import annotations

import json
import re

from ..core.builder import PipelineParameter

OUTPUT_ACTIONS = ("append_row", "summary_only")
DEFAULT_APPEND_ROW_FILE_NAME = "parallel_run_step.txt"
_MINI_BATCH_SIZE = re.compile(r"^\d+([kKmMgG][bB])*$")
_UNITS = {"kb": 1024, "mb": 1024 ** 2, "gb": 1024 ** 3}
_BAD_FILE_NAME = re.compile(r'[~"#%&*:<>?/\\{|}]+')


def parse_mini_batch_size(value) -> int:
    """``10`` -> 10, ``"10"`` -> 10, ``"10KB"`` -> 10240, ``"1MB"`` -> 1048576, ``"1GB"`` ->
    1073741824 (units are powers of 1024, any case). Raises ValueError for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError("Parameter mini_batch_size must be of type int or str, e.g. 10 (files) "
                         "or '1MB' (bytes of a TabularDataset)")
    if isinstance(value, int):
        return value
    text = value.strip()
    if not _MINI_BATCH_SIZE.match(text):
        raise ValueError(rf"Parameter mini_batch_size must follow regex rule ^\d+([kKmMgG][bB])*$ "
                         f"(e.g. '10', '10KB', '1MB', '1GB'), not {value!r}")
    if text.isdigit():
        return int(text)
    return int(text[:-2]) * _UNITS[text[-2:].lower()]


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _default(value):
    return value.default_value if isinstance(value, PipelineParameter) else value


class ParallelRunConfig:
    """``ParallelRunConfig(environment, entry_script, error_threshold, output_action,
    compute_target, node_count, process_count_per_node=None, mini_batch_size=None,
    source_directory=None, description=None, logging_level='INFO', run_invocation_timeout=60,
    run_max_try=3, append_row_file_name=None, allowed_failed_count=None,
    allowed_failed_percent=None, partition_keys=None, environment_variables=None)``.

    ``mini_batch_size``: files per ``run()`` call for a FileDataset (default 10), approximate
    bytes per call for a TabularDataset (default 1 MB); ``"10KB"``, ``"1MB"``, ``"1GB"`` are
    converted to an int here. ``partition_keys`` (exclusive with ``mini_batch_size``) groups
    mini-batches by the values of a partitioned dataset's keys. ``error_threshold`` counts failed
    files or records, ``allowed_failed_count`` failed mini-batches, ``allowed_failed_percent`` the
    percentage of failed mini-batches; -1 (or 100 %) ignores failures. ``process_count_per_node``
    None runs one worker per CPU the step's container may use.

    Raises ValueError for an argument Azure refuses (see the module docstring for the two
    additions).
    """

    def __init__(self, environment, entry_script, error_threshold, output_action, compute_target,
                 node_count, process_count_per_node=None, mini_batch_size=None,
                 source_directory=None, description=None, logging_level=None,
                 run_invocation_timeout=None, run_max_try=None, append_row_file_name=None,
                 allowed_failed_count=None, allowed_failed_percent=None, partition_keys=None,
                 environment_variables=None):
        from ...core.environment import Environment
        self.mini_batch_size = mini_batch_size
        self.error_threshold = error_threshold
        self.allowed_failed_count = allowed_failed_count
        self.allowed_failed_percent = allowed_failed_percent
        self.output_action = output_action
        self.logging_level = "INFO" if logging_level is None else logging_level
        self.compute_target = compute_target
        self.node_count = node_count
        self.process_count_per_node = process_count_per_node
        self.entry_script = entry_script.strip() if isinstance(entry_script, str) else entry_script
        self.source_directory = (source_directory.strip() if isinstance(source_directory, str)
                                 else source_directory)
        self.description = description
        self.environment = environment
        self.run_invocation_timeout = (60 if run_invocation_timeout is None
                                       else run_invocation_timeout)
        self.run_max_try = 3 if run_max_try is None else run_max_try
        self.append_row_file_name = append_row_file_name
        self.partition_keys = partition_keys
        self._environment_variables = {} if environment_variables is None else environment_variables

        if environment is None:
            raise ValueError("Parameter environment is required. It should be instance of "
                             "azureml.core.Environment.")
        if not isinstance(environment, Environment):
            raise ValueError("Parameter environment must be an instance of azureml.core."
                             f"Environment. The actual value is {environment!r}.")
        if not isinstance(self.entry_script, str) or not self.entry_script:
            raise ValueError("Parameter entry_script is required: the path of the script that "
                             "defines init() and run(mini_batch), relative to source_directory")
        if not isinstance(output_action, str) or output_action.lower() not in OUTPUT_ACTIONS:
            raise ValueError("Parameter output_action must be summary_only or append_row, "
                             f"not {output_action!r}.")
        if not _is_int(error_threshold) or error_threshold < -1:
            raise ValueError(f"error_threshold '{error_threshold}' is not an int value greater "
                             "than or equal to -1 (-1 ignores all failures).")
        if allowed_failed_count is not None and (not _is_int(allowed_failed_count)
                                                 or allowed_failed_count < -1):
            raise ValueError(f"allowed_failed_count '{allowed_failed_count}' is not an int value "
                             "greater than or equal to -1 (-1 ignores all failures).")
        if allowed_failed_percent is not None:
            if isinstance(allowed_failed_percent, bool) or not isinstance(allowed_failed_percent,
                                                                          (int, float)):
                raise ValueError(f"allowed_failed_percent '{allowed_failed_percent}' is not an "
                                 "int or float.")
            if not 0 <= allowed_failed_percent <= 100:
                raise ValueError(f"allowed_failed_percent '{allowed_failed_percent}' is not "
                                 "between 0 and 100.")
        if mini_batch_size is not None and partition_keys is not None:
            raise ValueError("Parameters mini_batch_size and partition_keys are mutually "
                             "exclusive, because they specify different ways to partition the "
                             "input datasets into mini-batches. Pass only one of them.")
        if mini_batch_size is not None and not isinstance(mini_batch_size, PipelineParameter):
            self.mini_batch_size = parse_mini_batch_size(mini_batch_size)
            if self.mini_batch_size < 1:
                raise ValueError("Parameter mini_batch_size must be 1 or more.")
        if partition_keys is not None:
            self._check_partition_keys(partition_keys)
        for name in ("process_count_per_node", "run_invocation_timeout", "run_max_try",
                     "node_count"):
            value = getattr(self, name)
            if name == "process_count_per_node" and value is None:
                continue
            if not isinstance(value, PipelineParameter) and (not _is_int(value) or value < 1):
                raise ValueError(f"Parameter {name} must be an integer greater than 0, not "
                                 f"{value!r}.")
        self._check_node_count_against_target()
        if (output_action.lower() == "append_row" and append_row_file_name is not None
                and (not isinstance(append_row_file_name, str)
                     or _BAD_FILE_NAME.search(append_row_file_name)
                     or not append_row_file_name.strip())):
            raise ValueError("Parameter append_row_file_name must be a valid UNIX file name "
                             '(none of ~"#%&*:<>?/\\{|}), not ' f"{append_row_file_name!r}.")
        if not isinstance(self._environment_variables, dict):
            raise ValueError("Parameter environment_variables must be a dict of names to values.")

    @staticmethod
    def _check_partition_keys(keys) -> None:
        if isinstance(keys, PipelineParameter):
            try:
                keys = json.loads(keys.default_value)
            except (TypeError, ValueError):
                raise ValueError(
                    "default_value of PipelineParameter partition_keys must be the json dump of "
                    "a list of str, e.g. json.dumps(['country'])") from None
            what = "default_value of PipelineParameter partition_keys"
        else:
            what = "Parameter partition_keys"
        if not isinstance(keys, list):
            raise ValueError(f"{what} must be a list of str, e.g. ['country', 'state'].")
        for key in keys:
            if not isinstance(key, str):
                raise ValueError(f"Element {key!r} in {what} is not a str.")

    def _check_node_count_against_target(self) -> None:
        target = self.compute_target
        if isinstance(self.node_count, PipelineParameter) or isinstance(target, (str, type(None))):
            return
        config = getattr(getattr(target, "_info", None), "config", None) or {}
        maximum = config.get("max_nodes")
        if _is_int(maximum) and maximum > 0 and self.node_count > maximum:
            raise ValueError(f"node_count '{self.node_count}' is not between 1 and max_nodes "
                             f"{maximum} of compute target '{target.name}'.")

    @property
    def environment_variables(self) -> dict:
        return self._environment_variables

    @environment_variables.setter
    def environment_variables(self, value: dict) -> None:
        self._environment_variables = value

    # -- YAML -------------------------------------------------------------------------------
    def save_to_yaml(self, path) -> None:
        """Export the configuration (PipelineParameters as their defaults) to a YAML file."""
        import yaml
        partition_keys = self.partition_keys
        if isinstance(partition_keys, PipelineParameter):
            partition_keys = json.loads(partition_keys.default_value)
        target = self.compute_target
        config = {
            "mini_batch_size": _default(self.mini_batch_size),
            "partition_keys": partition_keys,
            "error_threshold": self.error_threshold,
            "allowed_failed_count": self.allowed_failed_count,
            "allowed_failed_percent": self.allowed_failed_percent,
            "output_action": self.output_action,
            "logging_level": _default(self.logging_level),
            "compute_target_name": target if isinstance(target, str) or target is None
            else target.name,
            "node_count": _default(self.node_count),
            "process_count_per_node": _default(self.process_count_per_node),
            "entry_script": self.entry_script,
            "source_directory": self.source_directory,
            "description": self.description,
            "run_invocation_timeout": _default(self.run_invocation_timeout),
            "run_max_try": _default(self.run_max_try),
            "append_row_file_name": self.append_row_file_name,
            "environment": self.environment._serialize_to_dict(),
            "environment_variables": dict(self.environment_variables),
        }
        with open(path, "w", encoding="utf-8") as f:
            yaml.safe_dump({"parallel_run_config": config}, f, sort_keys=False)

    @staticmethod
    def load_yaml(workspace, path) -> "ParallelRunConfig":
        """A ParallelRunConfig from a file ``save_to_yaml`` wrote. The compute target is
        ``AmlCompute(workspace, name)``; ``environment`` may be the serialised environment, the
        path of a YAML/JSON file holding one, or (older files) ``environment_name`` /
        ``environment_dir_path``."""
        import yaml
        from ...core.compute import AmlCompute
        from ...core.environment import Environment
        with open(path, encoding="utf-8") as f:
            loaded = yaml.safe_load(f) or {}
        if not isinstance(loaded, dict) or not isinstance(loaded.get("parallel_run_config"), dict):
            raise ValueError(f"{path} holds no 'parallel_run_config' mapping; write it with "
                             "ParallelRunConfig.save_to_yaml(path)")
        config = loaded["parallel_run_config"]
        serialized = config.get("environment")
        if serialized is None:
            if "environment_dir_path" in config:
                env = Environment.load_from_directory(config["environment_dir_path"])
            elif "environment_name" in config:
                env = Environment.get(workspace, name=config["environment_name"])
            else:
                raise ValueError(f"{path}: an environment must be provided")
        else:
            if isinstance(serialized, str):
                with open(serialized, encoding="utf-8") as f:
                    serialized = yaml.safe_load(f)
            env = Environment._deserialize_and_add_to_object(serialized)
        name = config.get("compute_target_name")
        mini_batch_size = config.get("mini_batch_size")
        return ParallelRunConfig(
            environment=env, entry_script=config.get("entry_script"),
            error_threshold=config.get("error_threshold"),
            output_action=config.get("output_action"),
            compute_target=AmlCompute(workspace, name) if name else None,
            node_count=config.get("node_count"),
            process_count_per_node=config.get("process_count_per_node"),
            mini_batch_size=None if mini_batch_size is None else str(mini_batch_size),
            source_directory=config.get("source_directory"),
            description=config.get("description"), logging_level=config.get("logging_level"),
            run_invocation_timeout=config.get("run_invocation_timeout"),
            run_max_try=config.get("run_max_try"),
            append_row_file_name=config.get("append_row_file_name"),
            allowed_failed_count=config.get("allowed_failed_count"),
            allowed_failed_percent=config.get("allowed_failed_percent"),
            partition_keys=config.get("partition_keys"),
            environment_variables=config.get("environment_variables"))

    def __repr__(self) -> str:
        return (f"ParallelRunConfig(entry_script={self.entry_script!r}, "
                f"output_action={self.output_action!r}, node_count={self.node_count!r})")
