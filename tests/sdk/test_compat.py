"""`python -m amlocal.compat` serves azureml imports from amlocal, in that process only."""
import subprocess
import sys


def test_compat_runs_an_azureml_script(tmp_path):
    script = tmp_path / "uses_azureml.py"
    script.write_text(
        "import sys\n"
        "from azureml.core import Workspace, Run\n"
        "from azureml.core.run import Run as Run2\n"
        "from azureml.pipeline.core import PipelineData\n"
        "from azureml.pipeline.steps import PythonScriptStep\n"
        "import amlocal.core, amlocal.core.run\n"
        "assert Workspace is amlocal.core.Workspace and Run is Run2\n"
        "assert amlocal.core.__spec__.name == 'amlocal.core'\n"
        "assert str(PipelineData('x')) == '$AZUREML_DATAREFERENCE_x'\n"
        "print('ARGS', sys.argv[1:])\n")
    out = subprocess.run([sys.executable, "-m", "amlocal.compat", str(script), "a", "b"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "ARGS ['a', 'b']" in out.stdout


def test_alias_is_not_installed_globally():
    out = subprocess.run([sys.executable, "-c", "import azureml.core"], capture_output=True, text=True)
    assert out.returncode != 0
    assert "No module named 'azureml'" in out.stderr


def test_unknown_azureml_module_names_what_amlocal_covers(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("import azureml.train.estimator\n")
    out = subprocess.run([sys.executable, "-m", "amlocal.compat", str(script)],
                         capture_output=True, text=True)
    assert out.returncode != 0
    assert "amlocal does not provide azureml.train" in out.stderr
