"""Studio's Anaconda stack: an ExecutePythonScriptStep with no runconfig imports numpy, scipy,
pandas, scikit-learn and matplotlib without declaring them, in one environment built once and
shared by every such step; a runconfig the user gives keeps its packages and gets the stack."""
from __future__ import annotations

import pytest

USES_THE_STACK = """
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scipy
import sklearn
from scipy import stats
from sklearn.linear_model import LinearRegression

def azureml_main(dataframe1=None, dataframe2=None):
    x = np.arange(10.0).reshape(-1, 1)
    model = LinearRegression().fit(x, 3 * x.ravel() + 1)
    print("SLOPE", round(float(model.coef_[0]), 6), "P", round(float(stats.norm.cdf(0)), 3))
    print("VERSIONS", scipy.__version__, sklearn.__version__, matplotlib.__version__)
    plt.plot([1, 2, 3])
    plt.savefig("line.png")
    return pd.DataFrame({"slope": [float(model.coef_[0])]}),
"""

ANOTHER = """
import pandas as pd
import scipy.linalg

def azureml_main(dataframe1=None, dataframe2=None):
    print("DET", round(float(scipy.linalg.det([[2.0, 0.0], [0.0, 3.0]])), 3))
    return pd.DataFrame({"a": [1]}),
"""


def test_runconfig_given_keeps_its_packages_and_gets_the_stack():
    from amlocal.core.conda_dependencies import CondaDependencies
    from amlocal.core.runconfig import RunConfiguration
    from amlocal.pipeline.steps import ExecutePythonScriptStep
    from amlocal.pipeline.steps.execute_python_script_step import (STUDIO_ENVIRONMENT_NAME,
                                                                   STUDIO_STACK)

    default = ExecutePythonScriptStep(ANOTHER, name="d")
    env = default.runconfig.environment
    assert env.name == STUDIO_ENVIRONMENT_NAME
    assert list(env.python.conda_dependencies.pip_packages) == list(STUDIO_STACK)

    rc = RunConfiguration(conda_dependencies=CondaDependencies.create(
        pip_packages=["pandas==2.2.2", "lightgbm"], conda_packages=["scikit-learn"]))
    step = ExecutePythonScriptStep(ANOTHER, name="u", runconfig=rc)
    pip = list(step.runconfig.environment.python.conda_dependencies.pip_packages)
    assert pip[:2] == ["pandas==2.2.2", "lightgbm"]                    # the user's pins stay
    assert {"numpy", "scipy", "matplotlib", "pyarrow"} <= set(pip[2:])  # the stack on top
    assert "scikit-learn" not in pip and "pandas" not in pip           # named already
    assert list(rc.environment.python.conda_dependencies.pip_packages) == ["pandas==2.2.2",
                                                                          "lightgbm"]


@pytest.mark.usefixtures("docker_engine")
def test_no_runconfig_gets_the_studio_stack_built_once(workspace):
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.core.run import PIPELINE_LOG
    from amlocal.pipeline.steps import ExecutePythonScriptStep

    first = Pipeline(workspace, [ExecutePythonScriptStep(USES_THE_STACK, name="fit")])
    run = first.submit("studio-stack")
    assert run.wait_for_completion(show_output=False) == "Finished"
    step = run.find_step_run("fit")[0]
    log = step.get_job_log()
    assert "SLOPE 3.0 P 0.5" in log
    assert "VERSIONS 1.14.1 1.5.2 3.9.2" in log
    assert "python_device/line.png" in step.get_file_names()
    digest = step.get_properties()["amlocal.environment_digest"]

    second = Pipeline(workspace, [ExecutePythonScriptStep(ANOTHER, name="det")])
    again = second.submit("studio-stack-2")
    assert again.wait_for_completion(show_output=False) == "Finished"
    other = again.find_step_run("det")[0]
    assert "DET 6.0" in other.get_job_log()
    assert other.get_properties()["amlocal.environment_digest"] == digest
    pipeline_log = workspace._store.read_artifact(again.id, PIPELINE_LOG).decode()
    assert "building image" not in pipeline_log and "locking environment" not in pipeline_log
