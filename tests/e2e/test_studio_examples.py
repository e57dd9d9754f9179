"""The three Studio examples (issue 4, section 5) end to end through their run.sh, each with its
own AMLOCAL_HOME and working folder: feature-importance (a ranking as the result table), plots
(PNGs as python device output and as a data-URI cell through a web service) and immo (a model
pickled in a cell, a scoring web service, a client, retraining that keeps the better model)."""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("docker_engine")


def _run_example(tmp_path, name: str, dir_var: str) -> tuple[str, Path, dict]:
    work = tmp_path / name
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AZUREML_", "AMLOCAL_"))},
           "AMLOCAL_HOME": str(tmp_path / "home"), dir_var: str(work)}
    out = subprocess.run(["bash", str(ROOT / "examples" / name / "run.sh")], env=env,
                         capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    return out.stdout, work, env


def _amlocal(env: dict, work: Path, *args):
    done = subprocess.run(["amlocal", *args, "-o", "json"], env=env, cwd=work,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


PNG = b"\x89PNG\r\n\x1a\n"


def test_feature_importance_example(tmp_path):
    import pandas as pd

    text, work, _ = _run_example(tmp_path, "feature-importance", "FEATURE_IMPORTANCE_DIR")
    assert "[rank features] random forest on 178 wines:" in text
    accuracy = float(re.search(r"178 wines: ([0-9.]+) cross-validated accuracy", text).group(1))
    assert accuracy > 0.9
    printed = re.findall(r"^\s*(\d+)\. (\S+)\s+([0-9.]+) \+- ([0-9.]+)$", text, re.M)
    assert [int(r[0]) for r in printed] == list(range(1, 14))  # all 13 wine measurements
    importances = [float(r[2]) for r in printed]
    assert importances == sorted(importances, reverse=True)
    # the table printed is the step's result table, downloaded as Parquet
    (parquet,) = (work / "outputs").rglob("rank_features_result_dataset/result.parquet")
    ranking = pd.read_parquet(parquet)
    assert list(ranking.columns) == ["rank", "feature", "importance", "spread"]
    assert ranking["feature"].tolist() == [r[1] for r in printed]
    assert ranking["importance"].sum() == pytest.approx(1.0)
    assert {"proline", "flavanoids", "color_intensity"} & set(ranking["feature"][:3])


def test_plots_example(tmp_path):
    text, work, env = _run_example(tmp_path, "plots", "PLOTS_DIR")
    # the batch run on the web service input's example frame
    assert "[plot] plotted 60 points in 3 groups" in text
    assert ("python_device/histogram.png\npython_device/index.html\npython_device/scatter.png\n"
            "Downloaded 3 file(s)") in text  # the two images and the page showing them together
    for name in ("scatter.png", "histogram.png"):
        assert (work / "images/python_device" / name).read_bytes()[:8] == PNG
    # the same pipeline as a web service: the data-URI cell decoded to a PNG file
    uri = re.search(r"service scatter-plots at (\S+)", text).group(1)
    assert re.fullmatch(r"http://localhost:\d+/services/scatter-plots/execute", uri)
    assert re.search(r"the service plotted 40 points; wrote from_service.png \(\d+ bytes, "
                     r"PNG header ok\)", text)
    image = (work / "from_service.png").read_bytes()
    assert image[:8] == PNG and image != (work / "images/python_device/scatter.png").read_bytes()
    assert _amlocal(env, work, "webservice", "list") == []  # run.sh deletes its service


def _prices(block: str) -> dict[float, float]:
    return {float(s): float(p.replace(",", ""))
            for s, p in re.findall(r"^([\d.]+) m2 -> predicted price ([\d,]+)$", block, re.M)}


def test_immo_example(tmp_path):
    text, work, env = _run_example(tmp_path, "immo", "IMMO_DIR")
    fits = re.findall(r"\[train\] fitted on (\d+) flats: price = ([\d.]+) \* surface "
                      r"([+-]\d+); R\^2 on 80 check flats: ([\d.]+)", text)
    assert [int(f[0]) for f in fits] == [25, 6, 400]
    (coef1, icpt1), _, (coef2, icpt2) = ((float(f[1]), float(f[2])) for f in fits)
    assert "kept: immo_model version 1 (R^2 0.8627, no model yet)" in text
    assert ("discarded: R^2 0.4422 on flats_2025.csv is not better than immo_model version 1 "
            "(0.8627)") in text
    assert "kept: immo_model version 2 (R^2 0.9368, version 1 scored 0.8627)" in text

    # the client's answers come from the served model: first version 1, after retraining 2
    first, second = text.split("==> retraining on six hand-typed listings")
    assert "serves immo_model version 1" in first and "serves immo_model version 2" in second
    before, after = _prices(first), _prices(second)
    assert set(before) == set(after) == {25.0, 60.0, 110.0}
    for surface in before:  # the coefficients are printed to 0.1: allow for that
        assert before[surface] == pytest.approx(coef1 * surface + icpt1, abs=10)
        assert after[surface] == pytest.approx(coef2 * surface + icpt2, abs=10)
        truth = 4200 * surface + 30000  # how make_flats.py invents prices
        assert abs(after[surface] - truth) < abs(before[surface] - truth)

    model = _amlocal(env, work, "dataset", "show", "immo_model")
    assert model["versions"] == [1, 2] and model["tags"]["table"] == "flats_2026.csv"
    assert _amlocal(env, work, "webservice", "list") == []  # run.sh deletes its service
