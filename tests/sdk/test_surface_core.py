"""The rest of the azureml.core surface: authentication, compute_target and LocalTarget,
ComputeInstance, diagnostic_log, the workspace and model constants, and the cloud-only names."""
from __future__ import annotations

import logging
import uuid

import pytest

from amlocal._cloud_only import CloudOnlyError


# -- authentication ---------------------------------------------------------------------------
def test_token_classes_hand_back_the_token_they_were_given():
    from amlocal.core.authentication import ArmTokenAuthentication, AzureMLTokenAuthentication
    arm = ArmTokenAuthentication("arm-token")
    assert arm.get_authentication_header() == {"Authorization": "Bearer arm-token"}
    arm.update_arm_access_token("newer")
    assert arm.get_authentication_header() == {"Authorization": "Bearer newer"}
    assert "newer" not in repr(arm)
    aml = AzureMLTokenAuthentication.create("aml-token", None, "host", "sub", "rg", "ws", "exp",
                                            "run-1")
    assert aml.get_authentication_header() == {"Authorization": "Bearer aml-token"}
    aml.set_token("t2", expiry_time=None)
    assert aml.get_authentication_header()["Authorization"] == "Bearer t2"


def test_token_authentication_asks_your_function_per_audience():
    from amlocal.core.authentication import Audience, TokenAuthentication
    from amlocal.errors import UserErrorException
    asked = []

    def get_token(resource):
        asked.append(resource)
        return f"token-for-{len(asked)}"

    auth = TokenAuthentication(get_token)
    assert auth.get_authentication_header() == {"Authorization": "Bearer token-for-1"}
    assert auth.get_token(Audience.AZUREML) == "token-for-2"
    assert asked == ["https://management.core.windows.net/", "https://ml.azure.com"]
    assert TokenAuthentication(lambda r: r, cloud="AzureChinaCloud").get_token(Audience.AZUREML) \
        == "https://ml.azure.cn"
    with pytest.raises(ValueError, match="Unsupported audience"):
        auth.get_token("ARM")
    with pytest.raises(UserErrorException, match="get_token_for_audience"):
        TokenAuthentication(None)


def test_workspace_accepts_a_token_authentication(home):
    from amlocal.core import Workspace
    from amlocal.core.authentication import TokenAuthentication
    ws = Workspace.create("tokws", auth=TokenAuthentication(lambda r: "t"), exist_ok=True)
    assert ws.name == "tokws"


# -- compute_target -----------------------------------------------------------------------------
def test_local_target_and_the_exceptions_samples_import():
    from amlocal.core.compute_target import (AbstractComputeTarget, ComputeTargetException,
                                             LocalTarget, UserErrorException)
    from amlocal.core.runconfig import RunConfiguration
    from amlocal.exceptions import ComputeTargetException as Canonical
    assert ComputeTargetException is Canonical
    assert issubclass(ComputeTargetException, UserErrorException)
    target = LocalTarget()
    assert (target.type, target.name) == ("local", "local")
    rc = RunConfiguration()
    rc.target = LocalTarget()
    assert rc.target == "local"
    assert isinstance(AbstractComputeTarget.deserialize_from_dict("local", {"type": "local"}),
                      LocalTarget)
    with pytest.raises(ComputeTargetException, match="type required field"):
        AbstractComputeTarget.deserialize_from_dict("x", {})


def test_a_step_on_local_target_runs_on_the_local_docker_target(workspace, tmp_path):
    from amlocal.core.compute_target import LocalTarget
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.core._freeze import freeze
    from amlocal.pipeline.steps import PythonScriptStep
    (tmp_path / "s.py").write_text("print('hi')\n")
    step = PythonScriptStep("s.py", source_directory=str(tmp_path), compute_target=LocalTarget())
    graph, errors = freeze(Pipeline(workspace, [step]), take_snapshots=False)
    assert errors == []
    assert graph["steps"][0]["compute"] == {"name": "local", "kind": "docker"}


def test_legacy_attach_and_remove_are_cloud_only():
    from amlocal.core import attach_legacy_compute_target, remove_legacy_compute_target
    with pytest.raises(CloudOnlyError, match="attach_legacy_compute_target.*ComputeTarget.create"):
        attach_legacy_compute_target(None, ".", None)
    with pytest.raises(CloudOnlyError, match="remove_legacy_compute_target"):
        remove_legacy_compute_target(None, ".", "vm")


def test_prepare_refuses_what_is_not_a_run_configuration(workspace, tmp_path):
    from amlocal.core import Experiment, prepare_compute_target
    from amlocal.errors import UserErrorException
    exp = Experiment(workspace, "prep")
    with pytest.raises(UserErrorException, match="must be a RunConfiguration"):
        prepare_compute_target(exp, str(tmp_path), 42)
    with pytest.raises(UserErrorException, match="no run configuration found"):
        prepare_compute_target(exp, str(tmp_path), "missing")


@pytest.mark.usefixtures("docker_engine")
def test_prepare_compute_target_builds_the_environment_image(workspace, tmp_path, capsys):
    import docker

    from amlocal.compute import environments
    from amlocal.core import (Environment, Experiment, is_compute_target_prepared,
                              prepare_compute_target)
    from amlocal.core.runconfig import RunConfiguration

    env = Environment("prep-env")
    env.python.user_managed_dependencies = True           # nothing to install: a quick build
    env.environment_variables = {"PREP_TEST": uuid.uuid4().hex}   # a new image every run
    rc = RunConfiguration()
    rc.environment = env
    rc.save(str(tmp_path), name="prep")
    exp = Experiment(workspace, "prep")
    image = environments.resolve(env._to_spec(), print).image
    try:
        assert is_compute_target_prepared(exp, str(tmp_path), "prep") is False
        assert prepare_compute_target(exp, str(tmp_path), rc) is None
        assert docker.from_env().images.get(image) is not None
        assert is_compute_target_prepared(exp, str(tmp_path), rc) is True
        assert is_compute_target_prepared(exp, str(tmp_path), "prep") is True
    finally:
        try:
            docker.from_env().images.remove(image, force=True)
        except docker.errors.ImageNotFound:
            pass


# -- ComputeInstance ------------------------------------------------------------------------
def test_compute_instance_is_a_local_docker_target(workspace, capsys):
    from amlocal.core.compute import ComputeInstance, ComputeTarget
    from amlocal.errors import ComputeTargetException
    with pytest.raises(ComputeTargetException, match="does not exist"):
        ComputeInstance(workspace, "dev-box")
    config = ComputeInstance.provisioning_configuration(vm_size="STANDARD_D3_V2",
                                                       ssh_public_access=False)
    created = ComputeTarget.create(workspace, "dev-box", config)
    created.wait_for_completion(show_output=True)
    instance = ComputeInstance(workspace, "dev-box")
    assert (instance.name, instance.kind, instance.type) == ("dev-box", "docker", "ComputeInstance")
    assert "dev-box" in workspace.compute_targets
    assert isinstance(created, ComputeInstance)
    capsys.readouterr()
    instance.wait_for_completion(show_output=True)       # looked up, yet waiting works (Azure)
    assert capsys.readouterr().out == "Running\n"
    instance.start()
    with pytest.raises(ComputeTargetException, match="cannot be stopped"):
        instance.stop()


def test_cloud_compute_classes_name_the_local_alternative():
    from amlocal.core.compute import AksCompute, DatabricksCompute, RemoteCompute
    with pytest.raises(CloudOnlyError, match="AKS clusters exist only in Azure.*LocalWebservice"):
        AksCompute.provisioning_configuration(agent_count=2)
    with pytest.raises(CloudOnlyError, match="AmlCompute"):
        DatabricksCompute.attach_configuration(resource_group="rg")
    with pytest.raises(CloudOnlyError, match="RemoteCompute"):
        RemoteCompute(None, "vm")


# -- diagnostic_log -------------------------------------------------------------------------
def test_diagnostic_log_captures_debug_records_and_restores_the_loggers(tmp_path, capsys):
    from amlocal.core import diagnostic_log
    logger = logging.getLogger("amlocal.test_surface")
    parent = logging.getLogger("amlocal")
    before = (parent.level, parent.propagate)
    path = tmp_path / "debug.log"
    with diagnostic_log(str(path)):
        logger.debug("inside the capture")
    logger.debug("after the capture")
    text = path.read_text()
    assert "amlocal.test_surface|DEBUG|inside the capture" in text
    assert "after the capture" not in text
    assert (parent.level, parent.propagate) == before
    out = capsys.readouterr().out
    assert f"Debug logs are being sent to {path}" in out
    assert "Disabling log capture" in out


# -- constants and cloud-only names ---------------------------------------------------------
def test_default_blob_store_name_is_the_workspaces_default(workspace):
    from amlocal.core.workspace import WORKSPACE_DEFAULT_BLOB_STORE_NAME
    assert WORKSPACE_DEFAULT_BLOB_STORE_NAME == "workspaceblobstore"
    assert workspace.get_default_datastore().name == WORKSPACE_DEFAULT_BLOB_STORE_NAME


def test_models_dir_is_azures():
    from amlocal.core.model import MODELS_DIR
    assert MODELS_DIR.endswith("azureml-models")


def test_core_cloud_only_names_raise_with_their_reason():
    from amlocal.core import ContainerRegistry, Image, Keyvault, Webservice
    from amlocal.core.environment import ContainerRegistry as Registry
    from amlocal.core.model import ModelPackage
    from amlocal.core.webservice import AciWebservice, LocalWebservice
    assert ContainerRegistry is Registry and Webservice is LocalWebservice.__mro__[1]
    with pytest.raises(CloudOnlyError, match="Key Vault.*environment variables"):
        Keyvault(None)
    with pytest.raises(CloudOnlyError, match="Image"):
        Image.image_configuration()
    with pytest.raises(CloudOnlyError, match="LocalWebservice.deploy_configuration"):
        AciWebservice.deploy_configuration(cpu_cores=1, memory_gb=1)
    with pytest.raises(CloudOnlyError, match="ModelPackage"):
        ModelPackage(None, None)


def test_pipeline_steps_only_azure_runs_say_what_to_use():
    from amlocal.pipeline.steps import CommandStep, HyperDriveStep
    with pytest.raises(CloudOnlyError, match="not built in amlocal yet.*subprocess.run"):
        CommandStep(command="echo hi")
    with pytest.raises(CloudOnlyError, match="HyperDrive"):
        HyperDriveStep(name="hd")
