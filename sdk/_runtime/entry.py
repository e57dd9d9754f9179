"""The step entry command: ``python -m amlocal._runtime.entry SCRIPT [ARGS...]``.

Runs the user's script as ``__main__`` from the working directory (the snapshot), with the
``azureml`` alias active, ``outputs/`` and ``logs/`` created as on Azure, and buffered metrics
flushed before the process exits. A script's exception prints its traceback and exits 1.

Nothing the script logged is dropped silently: a metric that cannot be written when the script
ends (the run service refused it, does not answer, or the value is bad) is reported here, in the
step's log, and the step exits 1 even if the script itself succeeded. (A tag, property or file
write that fails raises in the script at the call, as on Azure.)

When the step's environment has mlflow, ``MLFLOW_TRACKING_URI`` reaches the step's own run (a
loopback proxy over the run service: :mod:`amlocal._runtime.mlflow_proxy`), as on Azure.
"""
from __future__ import annotations

import os
import runpy
import sys
import traceback


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print("usage: python -m amlocal._runtime.entry SCRIPT [ARGS...]", file=sys.stderr)
        return 2
    from amlocal import compat
    compat.install()
    import importlib.util
    if importlib.util.find_spec("mlflow") is not None:   # imported only where it can serve
        from amlocal._runtime import mlflow_proxy
        mlflow_proxy.start_for_step()   # MLflow tracking on this step's run
    os.makedirs("outputs", exist_ok=True)
    os.makedirs("logs", exist_ok=True)
    script = argv[0]
    sys.argv = list(argv)
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    code = _run_script(script)
    return _flush_metrics() or code


def _run_script(script: str) -> int:
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=sys.stderr)
        return 1
    except BaseException:  # noqa: BLE001 - the user's error: show it as Python would
        traceback.print_exc()
        return 1
    return 0


def _flush_metrics() -> int:
    """Write every buffered metric; 1 (and the reasons on stderr) if some could not be."""
    if "amlocal.core._metrics" not in sys.modules:
        return 0   # the script logged nothing: no buffer exists (and none is imported for it)
    from amlocal.core._metrics import flush_all
    failures = flush_all()
    for f in failures:
        print(f"amlocal: {f.count} metric value(s) logged to run {f.run_id} could not be written: "
              f"{f.error}", file=sys.stderr)
    if failures:
        print("amlocal: the step fails because metrics it logged were not written", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)
