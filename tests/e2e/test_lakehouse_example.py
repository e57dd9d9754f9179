"""The data-plane example end to end: a blob datastore on Azurite, trainers side by side, a
parameter from -p, reuse on an unchanged resubmit, and exactly the downstream steps rerun when
one input file changes."""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.usefixtures("docker_engine")
def test_lakehouse_example(tmp_path, azurite):
    work = tmp_path / "lakehouse"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AZUREML_", "AMLOCAL_"))},
           "AMLOCAL_HOME": str(tmp_path / "home"), "LAKEHOUSE_DIR": str(work),
           "AZURITE_PORT": str(azurite.port)}
    out = subprocess.run(["bash", str(ROOT / "examples/lakehouse/run.sh")], env=env,
                         capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    text = out.stdout
    assert "[train_linear] ridge(alpha=0.5)" in text
    assert "winner:" in text

    def amlocal(*args):
        done = subprocess.run(["amlocal", *args, "-o", "json"], env=env, cwd=work,
                              capture_output=True, text=True, check=True)
        return json.loads(done.stdout)

    runs = amlocal("run", "list")  # newest first
    assert [r["status"] for r in runs] == ["Finished"] * 3
    third, second, first = (amlocal("run", "show", r["runId"], "--reuse") for r in runs)
    assert {s["decision"] for s in first["steps"]} == {"ran"}
    assert {s["decision"] for s in second["steps"]} == {"reused"}
    decided = {s["name"]: s for s in third["steps"]}
    assert decided["prepare"]["decision"] == decided["train_linear"]["decision"] == "reused"
    assert decided["train_forest"]["decision"] == "ran"
    assert decided["train_forest"]["changed"] == ["inputs.calendar"]
    assert decided["compare"]["changed"] == ["inputs.forest"]

    # the two trainers of the first run overlapped in time
    steps = {s["displayName"]: s for s in amlocal("run", "show", first["runId"])["steps"]}
    a, b = steps["train_linear"], steps["train_forest"]
    assert a["startTimeUtc"] < b["endTimeUtc"] and b["startTimeUtc"] < a["endTimeUtc"]
    best = amlocal("dataset", "show", "best_sales_model")
    assert re.search(r"best_sales_model", json.dumps(best))
