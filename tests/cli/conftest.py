"""The CLI tests call `amlocal` in-process through click's runner, in a fresh home and folder."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from amlocal.cli import cli


@pytest.fixture
def amlocal(home, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(cli, list(args), catch_exceptions=False)
    return invoke
