"""The live server fuzzed from its own OpenAPI document with schemathesis: every operation the
document lists (every GET, and every state-changing route that exists, sent with a valid key)
gets generated valid and invalid inputs, and no answer is a 5xx. The read API's 200 answers
must also match their documented response models. A bounded number of examples per operation
keeps this to a minute or two."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

EXAMPLES = 30


@pytest.fixture(scope="module")
def live_api(studio_module):
    """The live server's schema, over a home with a workspace, an experiment and a run that has
    metrics and a file (so some generated requests find real things)."""
    from amlocal.core import Experiment, Workspace
    ws = Workspace("00000000-0000-0000-0000-000000000000", "fuzz-rg", "fuzzws")
    run = Experiment(ws, "fuzzing").start_logging(snapshot_directory=None)
    run.log("acc", 0.5)
    run.upload_file("outputs/a.txt", __file__)
    run.complete()
    schema = schemathesis.openapi.from_url(f"{studio_module.url}/openapi.json", wait_for_schema=30)
    return schema


schema = schemathesis.pytest.from_fixture("live_api")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_input_makes_a_server_error(case, studio_module):
    checks = [not_a_server_error]
    if case.path.startswith("/api/v1/") and case.method.upper() == "GET":
        checks.append(response_schema_conformance)
    case.call_and_validate(base_url=studio_module.url, headers=studio_module.headers,
                           checks=checks, timeout=60)
