"""The configuration sections of ``azureml.core.runconfig`` beyond RunConfiguration itself:
distributed-job configurations, data references, the dataset / output data descriptions and the
cloud compute sections, with azureml's constructors, defaults and attribute names.

What amlocal does with them:

* :class:`MpiConfiguration`, :class:`TensorflowConfiguration` and :class:`PyTorchConfiguration`
  describe a distributed job. amlocal runs a script as ONE process on this machine; asking for
  more than one process or node warns (``UserWarning``) when the configuration is made, naming
  what is asked and what runs, so a job is never silently shrunk.
* ``DataReferenceConfiguration`` is what ``DataReference.to_config()`` returns; its mode is
  checked when it is made (Azure checks at submission; same message, earlier). It is defined in
  ``amlocal.data.data_reference`` (the data layer does not import this one) and imported here.
* :class:`Data`, :class:`DataLocation`, :class:`OutputData` and the option classes are the
  serialisable descriptions Azure sends to its service. amlocal steps take their data from
  their inputs and arguments (DataReference, DatasetConsumptionConfig, OutputFileDatasetConfig),
  not from ``run_config.data_references`` / ``data`` / ``output_data``, which are only saved
  with the run configuration.

Every section serialises to azureml's camelCase keys (``run_config.save`` writes them).
* :class:`HdiConfiguration`, :class:`SparkConfiguration`, :class:`AmlComputeConfiguration`,
  :class:`KubernetesComputeConfiguration`, :class:`ParallelTaskConfiguration`,
  :class:`DatacacheConfiguration` and :class:`ApplicationEndpointConfiguration` only matter on
  cloud compute (HDInsight, Synapse, auto-created clusters, Kubernetes, datacache stores,
  interactive endpoints), whose amlocal names raise CloudOnlyError; they hold values so that
  scripts which build them import and run.

Only the standard library is imported (the module is mounted into step containers).
"""
from __future__ import annotations

import logging
import warnings

from .._cloud_only import cloud_only_function
from ..data._config_section import _Section
from ..data.data_reference import SUPPORTED_DATAREF_MODES, DataReferenceConfiguration  # noqa: F401
from ..errors import RunConfigurationException, UserErrorException
from .environment import ContainerRegistry as _ContainerRegistry
from .environment import Environment

module_logger = logging.getLogger(__name__)

SUPPORTED_DELIVERY_MECHANISM = ["direct", "mount", "download", "upload"]
SUPPORTED_PYTORCH_BACKENDS = ["nccl", "gloo"]


def _one_process(what: str, processes: int, nodes: int) -> None:
    """Warn when a distributed configuration asks for more than amlocal runs (one process)."""
    if (processes or 1) > 1 or (nodes or 1) > 1:
        warnings.warn(
            f"{what} asks for {processes or 1} process(es) on {nodes or 1} node(s); amlocal runs "
            "the script as ONE process on this machine (no MPI, parameter servers or "
            "torch.distributed launcher). Start the workers yourself from the script, or run "
            "the job in Azure for real distribution.", UserWarning, stacklevel=3)


class MpiConfiguration(_Section):
    """``MpiConfiguration(process_count_per_node=1, node_count=1)``: a distributed MPI job.
    More than one process or node warns: amlocal runs one process."""

    def __init__(self, process_count_per_node: int = 1, node_count: int = 1):
        _one_process("MpiConfiguration", process_count_per_node * node_count, node_count)
        self.process_count_per_node = process_count_per_node
        self.node_count = node_count
        self._initialized = True


class TensorflowConfiguration(_Section):
    """``TensorflowConfiguration(worker_count=1, parameter_server_count=1)``: a parameter-server
    TensorFlow job. More than one worker warns: amlocal runs one process."""

    def __init__(self, worker_count: int = 1, parameter_server_count: int = 1):
        _one_process("TensorflowConfiguration", worker_count, worker_count)
        self.worker_count = worker_count
        self.parameter_server_count = parameter_server_count
        self._initialized = True


class PyTorchConfiguration(_Section):
    """``PyTorchConfiguration(communication_backend='Nccl', process_count=None, node_count=1)``.

    The backend is stored lower-cased; one other than Nccl/Gloo raises
    RunConfigurationException (as Azure). More than one process or node warns: amlocal runs one
    process.
    """

    def __init__(self, communication_backend: str = "Nccl", process_count: int | None = None,
                 node_count: int = 1):
        if not isinstance(communication_backend, str) or \
                communication_backend.lower() not in SUPPORTED_PYTORCH_BACKENDS:
            raise RunConfigurationException(
                f"{communication_backend} is not a supported backend. 'communication_backend' "
                "must be 'Nccl' or 'Gloo'.")
        _one_process("PyTorchConfiguration", process_count or node_count, node_count)
        self.communication_backend = communication_backend.lower()
        self.process_count = process_count
        self.node_count = node_count
        self._initialized = True


class ParallelTaskConfiguration(_Section):
    """``ParallelTaskConfiguration()``: ``max_retries_per_worker=0``, ``worker_count_per_node=1``,
    ``terminal_exit_codes=None``. Used by Azure's ParallelTask framework; ParallelRunStep takes
    its own ``ParallelRunConfig``."""

    def __init__(self):
        self.max_retries_per_worker = 0
        self.worker_count_per_node = 1
        self.terminal_exit_codes = None
        self._initialized = True


class HdiConfiguration(_Section):
    """``HdiConfiguration()``: ``yarn_deploy_mode='cluster'``. Only HDInsight targets read it
    (``HDInsightCompute`` is cloud-only)."""

    def __init__(self):
        self.yarn_deploy_mode = "cluster"
        self._initialized = True


class SparkConfiguration(_Section):
    """``SparkConfiguration()``: the Spark ``configuration`` dict of Spark targets (cloud-only)."""

    def __init__(self):
        self.configuration = {"spark.app.name": "Azure ML Experiment",
                              "spark.yarn.maxAppAttempts": 1}
        self._initialized = True


class AmlComputeConfiguration(_Section):
    """``AmlComputeConfiguration()``: ``vm_size`` and ``vm_priority`` of a cluster Azure creates
    for one run. amlocal creates no VMs: on a Ray target ``vm_size`` is what the step asks for
    (that size's vCPUs, memory and GPUs, see ``amlocal.core._runconfig_requests``); elsewhere it
    is recorded and ignored, as is ``vm_priority``."""

    def __init__(self):
        self.vm_size = None
        self.vm_priority = None
        self._retain_cluster = False
        self._name = None
        self._cluster_max_node_count = None
        self._initialized = True


class KubernetesComputeConfiguration(_Section):
    """``KubernetesComputeConfiguration()``: ``instance_type`` on a Kubernetes target
    (``KubernetesCompute`` is cloud-only)."""

    def __init__(self):
        self.instance_type = None
        self._initialized = True


class ApplicationEndpointConfiguration(_Section):
    """``ApplicationEndpointConfiguration(type=None, port=None, properties=None)``: an
    interactive endpoint (Jupyter, TensorBoard, SSH ...) Azure opens into a job's container."""

    def __init__(self, type: str | None = None, port: int | None = None,
                 properties: dict | None = None):
        self.type = type
        self.port = port
        self.properties = properties
        self._initialized = True


class DataPath(_Section):
    """``DataPath(datastore_name=None, relative_path=None)`` of a :class:`DataLocation` (the
    pipeline ``DataPath`` is ``azureml.data.datapath.DataPath``)."""

    def __init__(self, datastore_name: str | None = None, relative_path: str | None = None):
        self.datastore_name = datastore_name
        self.relative_path = relative_path
        self._initialized = True

    def _validate(self) -> None:
        if not self.datastore_name:
            raise UserErrorException("For a data path, the datastore_name cannot be empty.")
        if not self.relative_path:
            raise UserErrorException("For a data path, the relative_path cannot be empty.")


class Dataset(_Section):
    """``Dataset(dataset_id=None, dataset_name=None, dataset_version=None)``: a reference to a
    saved or registered dataset in a :class:`DataLocation` (not ``azureml.core.Dataset``)."""

    def __init__(self, dataset_id: str | None = None, dataset_name: str | None = None,
                 dataset_version: str | None = None):
        self.id = dataset_id
        self.name = dataset_name
        self.version = dataset_version
        self._initialized = True

    def _validate(self) -> None:
        if not self.id and not (self.name and self.version):
            raise UserErrorException("The Dataset must be saved, which means it has an id, or it "
                                     "must be referenced by name and version.")


class Uri(_Section):
    """``Uri(path=None, is_file=False)``."""

    def __init__(self, path: str | None = None, is_file: bool = False):
        self.path = path
        self.is_file = is_file
        self._initialized = True


class DataLocation(_Section):
    """``DataLocation(dataset=None, data_path=None, uri=None)``: where a :class:`Data` or
    :class:`OutputData` lives."""

    def __init__(self, dataset: Dataset | None = None, data_path: DataPath | None = None,
                 uri: Uri | None = None):
        self.dataset = dataset
        self.data_path = data_path
        self.uri = uri
        self._initialized = True

    def _validate(self) -> None:
        if not self.dataset and not self.data_path:
            raise UserErrorException("Either dataset or datapath should be presented.")


class Data(_Section):
    """``Data(data_location=None, create_output_directories=None, mechanism='direct',
    environment_variable_name=None, path_on_compute=None, overwrite=False, options=None)``:
    how ``run_config.data[name]`` is delivered. The mechanism is lower-cased and must be one of
    direct/mount/download/upload (UserErrorException otherwise)."""

    def __init__(self, data_location: DataLocation | None = None,
                 create_output_directories: bool | None = None, mechanism: str = "direct",
                 environment_variable_name: str | None = None,
                 path_on_compute: str | None = None, overwrite: bool = False,
                 options: dict | None = None):
        if not isinstance(mechanism, str) or mechanism.lower() not in SUPPORTED_DELIVERY_MECHANISM:
            raise UserErrorException(
                f"mechanism {mechanism!r} is not supported: use one of "
                f"{', '.join(SUPPORTED_DELIVERY_MECHANISM)}")
        self.data_location = data_location
        self.create_output_directories = create_output_directories
        self.mechanism = mechanism.lower()
        self.environment_variable_name = environment_variable_name
        self.path_on_compute = path_on_compute
        self.overwrite = overwrite
        self.options = options
        self._initialized = True

    @staticmethod
    def create(data) -> "Data":
        """The Data describing a ``DatasetConsumptionConfig`` (``ds.as_named_input('x')``).

        Raises UserErrorException for anything else, or for a dataset that is neither
        registered nor saved (it has no id)."""
        from ..data.dataset_consumption_config import DatasetConsumptionConfig
        if not isinstance(data, DatasetConsumptionConfig):
            raise UserErrorException("Data must be an instance of DatasetConsumptionConfig.")
        dataset = data.dataset
        ref_id = getattr(dataset, "id", None)
        if not ref_id and not getattr(dataset, "name", None):
            raise UserErrorException(
                f"input '{data.name}' is a dataset that is neither registered nor saved; "
                "register it first: dataset.register(ws, 'name')")
        version = getattr(dataset, "version", None)
        reference = Dataset(dataset_id=ref_id, dataset_name=getattr(dataset, "name", None),
                            dataset_version=None if version is None else str(version))
        return Data(data_location=DataLocation(dataset=reference),
                    create_output_directories=False, mechanism=data.mode,
                    environment_variable_name=data.name, path_on_compute=data.path_on_compute,
                    overwrite=False)


class DatacacheConfiguration(_Section):
    """``DatacacheConfiguration(dataset_id=None, datacache_store=None, datacache_id=None,
    mode='mount', path_on_compute=None, replica=None, failure_fallback=False)``: a datacache
    replica (``DatacacheStore`` is cloud-only)."""

    def __init__(self, dataset_id: str | None = None, datacache_store: str | None = None,
                 datacache_id: str | None = None, mode: str = "mount",
                 path_on_compute: str | None = None, replica: int | None = None,
                 failure_fallback: bool = False):
        self.datacache_id = datacache_id
        self.datacache_store = datacache_store
        self.dataset_id = dataset_id
        self.mode = mode.lower()
        self.path_on_compute = path_on_compute
        self.replica = replica
        self.failure_fallback = failure_fallback
        self._initialized = True


# DatacacheConfiguration.create(data) reads an Azure DatacacheConsumptionConfig: cloud-only.
DatacacheConfiguration.create = staticmethod(cloud_only_function(
    "azureml.core.runconfig.DatacacheConfiguration", "create",
    "it reads a DatacacheConsumptionConfig of an Azure datacache store (DatacacheStore), which "
    "exists only in Azure",
    "consume the dataset directly: dataset.as_named_input(name).as_mount()"))


class DatasetRegistrationOptions(_Section):
    """``DatasetRegistrationOptions(additional_transformations=None)``."""

    def __init__(self, additional_transformations=None):
        self.additional_transformation = additional_transformations
        self._initialized = True


class RegistrationOptions(_Section):
    """``RegistrationOptions(name=None, description=None, tags=None,
    dataset_registration_options=None)``: how an output is registered (what
    ``OutputFileDatasetConfig.register_on_complete`` records)."""

    def __init__(self, name: str | None = None, description: str | None = None,
                 tags: dict | None = None, dataset_registration_options=None):
        self.name = name
        self.description = description
        self.tags = tags
        self.dataset_registration_options = dataset_registration_options
        self._initialized = True


class GlobsOptions(_Section):
    """``GlobsOptions(patterns=None)``: glob patterns filtering uploaded files."""

    def __init__(self, patterns: list | None = None):
        self.patterns = patterns
        self._initialized = True


class UploadOptions(_Section):
    """``UploadOptions(overwrite=False, source_globs=None)`` of an upload-mode output."""

    def __init__(self, overwrite: bool = False, source_globs: GlobsOptions | None = None):
        self.overwrite = overwrite
        self.source_globs = source_globs
        self._initialized = True


class MountOptions(_Section):
    """``MountOptions(disable_metadata_cache=False)`` of a mount-mode output."""

    def __init__(self, disable_metadata_cache: bool = False):
        self.disable_metadata_cache = disable_metadata_cache
        self._initialized = True


class OutputOptions(_Section):
    """``OutputOptions(path_on_compute=None, registration_options=None, upload_options=None,
    mount_options=None)``."""

    def __init__(self, path_on_compute: str | None = None, registration_options=None,
                 upload_options: UploadOptions | None = None,
                 mount_options: MountOptions | None = None):
        self.path_on_compute = path_on_compute
        self.registration_options = registration_options
        self.upload_options = upload_options
        self.mount_options = mount_options
        self._initialized = True


class OutputData(_Section):
    """``OutputData(output_location=None, mechanism='mount', additional_options=None)``: how
    ``run_config.output_data[name]`` is uploaded. The mechanism is lower-cased and must be
    mount, upload or link (UserErrorException otherwise)."""

    def __init__(self, output_location: DataLocation | None = None, mechanism: str = "mount",
                 additional_options: OutputOptions | None = None):
        if not isinstance(mechanism, str) or mechanism.lower() not in ("mount", "upload", "link",
                                                                       "hdfs"):
            raise UserErrorException(f"output mechanism {mechanism!r} is not supported: use "
                                     "mount or upload")
        self.output_location = output_location
        self.mechanism = mechanism.lower()
        self.additional_options = additional_options
        self._initialized = True


class ContainerRegistry(_ContainerRegistry):
    """Deprecated in azureml: use ``azureml.core.ContainerRegistry``. Same attributes; making
    one logs Azure's deprecation warning."""

    def __init__(self):
        super().__init__()
        module_logger.warning("'ContainerRegistry' will be deprecated soon. Please use "
                              "ContainerRegistry from 'azureml.core.container_registry'.")


class AzureContainerRegistry(ContainerRegistry):
    """Deprecated in azureml: use ``azureml.core.ContainerRegistry``."""

    def __init__(self):
        super().__init__()
        module_logger.warning("'AzureContainerRegistry' will be deprecated soon. Please use "
                              "'ContainerRegistry'.")


class EnvironmentDefinition(Environment):
    """Deprecated in azureml: ``EnvironmentDefinition(name=None)`` is an :class:`Environment`."""

    def __init__(self, name: str | None = None, _skip_defaults: bool = False):
        super().__init__(name, _skip_defaults=_skip_defaults)
