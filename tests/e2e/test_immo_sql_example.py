"""The apartment-price example on PostgreSQL (examples/immo-sql) end to end through its run.sh,
with its own AMLOCAL_HOME and working folder: a real PostgreSQL server started by the script, a
query read by an Execute Python Script step, models appended to `immo_model` by a
DataTransferStep, a scoring web service that answers with the newest usable model, and two
retrainings (one model flagged unusable, one that replaces the served model)."""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("docker_engine")
PASSWORD = "immo-Secret-7f3a9c"   # what the example's server gets, to look for it afterwards


def _answers(block: str) -> dict[float, tuple[float, int]]:
    return {float(s): (float(p.replace(",", "")), int(n)) for s, p, n in re.findall(
        r"^([\d.]+) m2 -> predicted price ([\d,]+) \(model trained on (\d+) listings\)$",
        block, re.M)}


def test_immo_sql_example(tmp_path, postgres):
    # the session's `postgres` fixture proves Debian's server can start here (it fails in CI
    # and skips elsewhere when it cannot); the example starts its own
    work = tmp_path / "work"
    env = {**{k: v for k, v in os.environ.items()
              if not k.startswith(("AZUREML_", "AMLOCAL_", "PG"))},
           "AMLOCAL_HOME": str(tmp_path / "home"), "IMMO_SQL_DIR": str(work),
           "IMMO_PG_PASSWORD": PASSWORD}
    done = subprocess.run(["bash", str(ROOT / "examples" / "immo-sql" / "run.sh")], env=env,
                          capture_output=True, text=True, timeout=1800)
    text = done.stdout
    assert done.returncode == 0, text[-4000:] + done.stderr[-4000:]

    fits = re.findall(r"\[fit\] fitted on (\d+) listings: price = (-?[\d.]+) \* surface "
                      r"([+-]\d+); R\^2 ([\d.]+): (usable|not used)", text)
    assert [(int(f[0]), f[4]) for f in fits] == [(30, "usable"), (38, "not used"),
                                                 (338, "usable")]
    assert text.count("appended 1 row(s): table 'immo_model' on SQL datastore 'immo_db'") == 3
    assert "registered AzurePostgreSql datastore immo_db" in text
    table = text.rsplit("immo_model now holds:", 1)[1]
    assert re.search(r"1\s+30\s+3656\.3\s+0\.8075\s+True", table)
    assert re.search(r"2\s+38\s+-1054\.6\s+0\.1499\s+False", table)
    assert re.search(r"3\s+338\s+3820\.1\s+0\.7245\s+True", table)

    first, rest = text.split("==> retraining after the 2025 auctions")
    second, third = rest.split("==> retraining with the 2026 listings")
    # the unusable model (flag_use false) is never served: the first model answers until the
    # 2026 listings make a usable one
    coefficients = [(float(f[1]), float(f[2])) for f in fits]
    for block, (coef, intercept), flats in ((first, coefficients[0], 30),
                                            (second, coefficients[0], 30),
                                            (third, coefficients[2], 338)):
        answers = _answers(block)
        assert set(answers) == {25.0, 60.0, 110.0}
        for surface, (price, trained_on) in answers.items():
            assert trained_on == flats
            assert price == pytest.approx(coef * surface + intercept, abs=10)

    # the password never reached a step: no step log, artifact, output or service file holds
    # it (only the store's database keeps it, as every datastore secret)
    assert PASSWORD not in text and PASSWORD not in done.stderr
    home = tmp_path / "home"
    leaked = subprocess.run(["grep", "-rl", "--binary-files=text", "--exclude=amlocal.db*",
                             PASSWORD, str(home), str(work)], capture_output=True, text=True)
    assert leaked.stdout == ""
    shown = subprocess.run(["amlocal", "datastore", "list", "-o", "json"], env=env,
                           cwd=work, capture_output=True, text=True, check=True)
    assert "immo_db" in shown.stdout and PASSWORD not in shown.stdout
    services = subprocess.run(["amlocal", "webservice", "list", "-o", "json"], env=env, cwd=work,
                              capture_output=True, text=True, check=True)
    assert json.loads(services.stdout) == []   # run.sh deletes its service
    stopped = re.search(r"^stopped the PostgreSQL server of (\S+)$", text, re.M)
    assert stopped and not Path(stopped.group(1)).exists()   # run.sh stops its server
