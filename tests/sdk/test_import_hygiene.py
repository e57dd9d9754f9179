"""The amlocal package is mounted into step containers whose Python may have none of amlocal's
dependencies: its user-facing modules must import with the standard library alone, and
importing them must not touch the store."""
import subprocess
import sys
import textwrap

HEAVY = ["pandas", "yaml", "fsspec", "sqlalchemy", "alembic", "docker", "rich", "click",
         "pathspec", "filelock", "conda_lock", "numpy", "requests", "IPython", "ipywidgets"]


def test_sdk_modules_import_with_stdlib_only(tmp_path):
    code = textwrap.dedent(f"""
        import importlib.abc, sys, os
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split('.')[0] in {HEAVY!r}:
                    raise ImportError('blocked in a bare step image: ' + name)
        sys.meta_path.insert(0, Block())
        import amlocal, amlocal.core, amlocal.core.run, amlocal.core.model, amlocal.data
        import amlocal.pipeline.core, amlocal.pipeline.steps, amlocal.compat
        import amlocal.core.authentication, amlocal.core.compute, amlocal.core.runconfig
        import amlocal.core.conda_dependencies, amlocal.core.environment
        import amlocal.pipeline.steps.python_script_step, amlocal._runtime.entry
        import amlocal.runservice.client, amlocal._runtime.studio, amlocal._runtime.scoring
        import amlocal.pipeline.steps.execute_python_script_step, amlocal.core.webservice
        import amlocal.widgets, amlocal.widgets.run_details, amlocal.widgets._render
        from amlocal.core import Run
        run = Run.get_context()
        run.log('x', 1)
        assert not os.path.exists(os.environ['AMLOCAL_HOME']), 'importing must not create the home'
        print('OK')
    """)
    env = {"AMLOCAL_HOME": str(tmp_path / "never-created"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert "OK" in out.stdout
    assert "Attempted to log scalar metric x" in out.stdout
