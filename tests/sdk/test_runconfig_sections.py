"""The other public names of azureml.core.runconfig / environment / conda_dependencies:
distributed-job sections, data descriptions, image constants, deprecated aliases."""
from __future__ import annotations

import logging
import warnings

import pytest

from amlocal._cloud_only import CloudOnlyError
from amlocal.core import runconfig
from amlocal.core.runconfig import (Data, DataLocation, DataReferenceConfiguration,
                                    EnvironmentDefinition, MpiConfiguration, OutputData,
                                    PyTorchConfiguration, RunConfiguration,
                                    TensorflowConfiguration)
from amlocal.errors import RunConfigurationException, UserErrorException


def test_image_constants_are_azureml_1_61s():
    from amlocal.core import environment
    assert runconfig.DEFAULT_CPU_IMAGE == \
        "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:20251130.v1"
    # the GPU image has no tag in 1.61
    assert runconfig.DEFAULT_GPU_IMAGE == \
        "mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.8-cudnn8-ubuntu22.04"
    assert runconfig.MPI_CPU_IMAGE == runconfig.DEFAULT_CPU_IMAGE == environment.DEFAULT_CPU_IMAGE
    assert runconfig.MPI_GPU_IMAGE == runconfig.DEFAULT_GPU_IMAGE == environment.DEFAULT_GPU_IMAGE
    assert RunConfiguration().environment.docker.base_image == runconfig.DEFAULT_CPU_IMAGE


def test_azure_images_still_mean_amlocals_base_image():
    from amlocal.compute.images import is_azure_default
    assert is_azure_default(runconfig.DEFAULT_CPU_IMAGE)
    assert is_azure_default(runconfig.DEFAULT_GPU_IMAGE)


def test_supported_mode_constants():
    assert runconfig.SUPPORTED_DATAREF_MODES == ["mount", "download", "upload"]
    assert runconfig.SUPPORTED_DELIVERY_MECHANISM == ["direct", "mount", "download", "upload"]
    assert runconfig.SUPPORTED_PYTORCH_BACKENDS == ["nccl", "gloo"]
    assert runconfig.LOCAL_RUNCONFIG_NAME == "local"


def test_backward_compatible_reexports_are_the_real_classes():
    from amlocal.core import conda_dependencies, environment
    from amlocal.data import dataset_consumption_config
    assert runconfig.CondaDependencies is conda_dependencies.CondaDependencies
    assert runconfig.Environment is environment.Environment
    assert runconfig.PythonSection is environment.PythonSection
    assert runconfig.DockerSection is environment.DockerSection
    assert runconfig.SparkSection is environment.SparkSection
    assert runconfig.DatasetConsumptionConfig is dataset_consumption_config.DatasetConsumptionConfig


def test_distributed_configurations_keep_azures_defaults_quietly():
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # the defaults ask for one process: no warning
        mpi = MpiConfiguration()
        tf = TensorflowConfiguration()
        torch = PyTorchConfiguration()
    assert (mpi.process_count_per_node, mpi.node_count) == (1, 1)
    assert (tf.worker_count, tf.parameter_server_count) == (1, 1)
    assert (torch.communication_backend, torch.process_count, torch.node_count) == ("nccl", None, 1)


def test_asking_for_more_processes_warns_that_one_runs():
    with pytest.warns(UserWarning, match=r"4 process\(es\) on 2 node\(s\).*ONE process"):
        mpi = MpiConfiguration(process_count_per_node=2, node_count=2)
    assert (mpi.process_count_per_node, mpi.node_count) == (2, 2)
    with pytest.warns(UserWarning, match="PyTorchConfiguration asks for 3 process"):
        PyTorchConfiguration(process_count=3)
    with pytest.warns(UserWarning, match="TensorflowConfiguration asks for 2 process"):
        TensorflowConfiguration(worker_count=2)


def test_pytorch_backend_is_lower_cased_and_checked():
    assert PyTorchConfiguration("Gloo").communication_backend == "gloo"
    assert PyTorchConfiguration(communication_backend="NCCL").communication_backend == "nccl"
    with pytest.raises(RunConfigurationException, match="MPI is not a supported backend"):
        PyTorchConfiguration("MPI")


def test_sections_refuse_unknown_attributes():
    mpi = MpiConfiguration()
    with pytest.raises(AttributeError, match="process_count_per_node"):
        mpi.process_count = 4                  # a typo of process_count_per_node


def test_data_reference_configuration_lower_cases_and_checks_the_mode():
    ref = DataReferenceConfiguration("workspaceblobstore", mode="Download",
                                     path_on_datastore="raw", path_on_compute="/data")
    assert (ref.data_store_name, ref.mode, ref.path_on_data_store, ref.path_on_compute,
            ref.overwrite) == ("workspaceblobstore", "download", "raw", "/data", False)
    assert DataReferenceConfiguration().mode == "mount"
    with pytest.raises(UserErrorException, match="'direct' is not supported.*mount, download, upload"):
        DataReferenceConfiguration("store", mode="direct")
    with pytest.raises(UserErrorException, match="Missing data store name"):
        DataReferenceConfiguration()._validate()


def test_data_reference_to_config_gives_the_runconfig_section(workspace, tmp_path):
    from amlocal.core import Datastore
    from amlocal.data.data_reference import DataReference
    store = Datastore.register(workspace, "lake", url=str(tmp_path))
    config = DataReference(store, "raw_in", "raw", mode="download").to_config()
    assert isinstance(config, DataReferenceConfiguration)
    assert (config.data_store_name, config.mode, config.path_on_data_store) == ("lake", "download", "raw")


def test_data_describes_a_registered_dataset_input(workspace, tmp_path):
    from amlocal.core import Dataset, Datastore
    (tmp_path / "a.txt").write_text("a")
    store = Datastore.register(workspace, "lake", url=str(tmp_path))
    files = Dataset.File.from_files((store, "a.txt")).register(workspace, "letters")
    data = Data.create(files.as_named_input("letters_in").as_download())
    assert (data.mechanism, data.environment_variable_name) == ("download", "letters_in")
    assert data.data_location.dataset.id == files.id
    assert data.data_location.dataset.name == "letters"
    with pytest.raises(UserErrorException, match="DatasetConsumptionConfig"):
        Data.create(files)


def test_data_and_output_data_check_their_mechanism():
    assert Data(mechanism="Mount").mechanism == "mount"
    assert OutputData(DataLocation(), mechanism="Upload").mechanism == "upload"
    with pytest.raises(UserErrorException, match="'stream' is not supported"):
        Data(mechanism="stream")


def test_environment_definition_is_an_environment():
    from amlocal.core.environment import Environment
    env = EnvironmentDefinition()
    assert isinstance(env, Environment) and env.name is None
    assert EnvironmentDefinition("x").python.conda_dependencies is not None


def test_deprecated_aliases_work_and_say_so(caplog):
    from amlocal.core.environment import (DockerEnvironment, DockerSection, PythonEnvironment,
                                          PythonSection, SparkEnvironment, SparkSection)
    with caplog.at_level(logging.WARNING):
        assert isinstance(PythonEnvironment(), PythonSection)
        assert isinstance(DockerEnvironment(), DockerSection)
        assert isinstance(SparkEnvironment(), SparkSection)
        registry = runconfig.AzureContainerRegistry()
    assert registry.address is None
    text = caplog.text
    assert "'PythonEnvironment' will be deprecated" in text
    assert "'DockerEnvironment' will be deprecated" in text
    assert "'AzureContainerRegistry' will be deprecated" in text


def test_environment_reference_fetches_the_registered_environment(workspace):
    from amlocal.core.environment import Environment, EnvironmentReference
    from amlocal.errors import NotFoundError
    Environment("train-env").register(workspace)
    got = EnvironmentReference("train-env", "1").get_environment(workspace)
    assert (got.name, got.version) == ("train-env", "1")
    with pytest.raises(NotFoundError, match="no environment named 'missing'"):
        EnvironmentReference("missing").get_environment(workspace)


def test_docker_image_details_reads_the_service_answer():
    from amlocal.core.environment import DockerImageDetails
    details = DockerImageDetails({
        "imageExistsInRegistry": True,
        "dockerImage": {"name": "azureml/azureml_abc", "registry": {"address": "r.azurecr.io"}},
        "pythonEnvironment": {"interpreterPath": "/azureml-envs/x/bin/python",
                              "condaEnvironmentPath": "/azureml-envs/x"}})
    assert details.image_exist and details.image == "r.azurecr.io/azureml/azureml_abc"
    assert details.interpreter_path == "/azureml-envs/x/bin/python"
    assert details.environment_path == "/azureml-envs/x" and details.dockerfile is None
    assert DockerImageDetails().image is None


def test_environment_names_amlocal_cannot_build_raise_with_the_alternative():
    from amlocal.core.environment import DockerBuildContext, Environment, RSection
    with pytest.raises(CloudOnlyError, match="Python environments only.*Rscript"):
        RSection()
    with pytest.raises(CloudOnlyError, match="docker build -t my-image"):
        DockerBuildContext.from_local_directory
    with pytest.raises(CloudOnlyError, match="docker build -t my-image"):
        Environment.from_docker_build_context("e", None)


def test_conda_dependencies_constants():
    from amlocal.core import conda_dependencies as cd
    assert (cd.CPU, cd.GPU, cd.LINUX_PLATFORM, cd.WINDOWS_PLATFORM) == ("cpu", "gpu", "linux", "win32")
    assert (cd.TENSORFLOW_PACKAGE_PREFIX, cd.PYTORCH_PACKAGE_PREFIX) == ("tensorflow", "torch")
    assert cd.INVALID_PATHON_MESSAGE.format("2.7").startswith("Invalid python version 2.7")


def test_sections_are_saved_with_azures_camel_case_keys(tmp_path):
    import yaml
    rc = RunConfiguration()
    rc.data_references = {"raw": DataReferenceConfiguration("lake", "download", "raw")}
    rc.output_data = {"out": OutputData(DataLocation(data_path=runconfig.DataPath("ws", "p")),
                                        "upload",
                                        runconfig.OutputOptions(
                                            upload_options=runconfig.UploadOptions(True)))}
    rc.save(str(tmp_path / "rc.runconfig"))
    saved = yaml.safe_load((tmp_path / "rc.runconfig").read_text())
    assert saved["dataReferences"]["raw"] == {"dataStoreName": "lake", "pathOnDataStore": "raw",
                                              "pathOnCompute": None, "mode": "download",
                                              "overwrite": False}
    out = saved["outputData"]["out"]
    assert out["outputLocation"]["dataPath"] == {"datastoreName": "ws", "relativePath": "p"}
    assert out["additionalOptions"]["uploadOptions"] == {"overwrite": True, "sourceGlobs": None}
    assert RunConfiguration.load(str(tmp_path / "rc.runconfig")).data_references["raw"]["mode"] \
        == "download"
