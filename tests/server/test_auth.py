"""Keys on the real server process: every state-changing route of the OpenAPI document refuses a
request without a valid key (401), reads need none on a loopback bind and a key on any other
bind, a revoked key is refused at once, and the auth classes' header is let in."""
from __future__ import annotations

import re

import httpx
import pytest


def _state_changing_routes(doc: dict) -> list[tuple[str, str]]:
    return [(method.upper(), path) for path, item in doc["paths"].items()
            for method in item if method in ("post", "put", "patch", "delete")]


def _filled(path: str, ws=None) -> str:
    """A concrete path for an OpenAPI template: the workspace's own values for its parameters
    (so a route reaches its key check rather than a 404), 'x' for every other parameter."""
    known = {}
    if ws is not None:
        known = {"subscription_id": ws.subscription_id, "resource_group": ws.resource_group,
                 "workspace_name": ws.name, "workspace": ws._id}
    return re.sub(r"\{([^}:]+)(:[^}]*)?\}", lambda m: known.get(m.group(1), "x"), path)


def test_reads_on_loopback_need_no_key_and_a_sent_key_is_checked(studio):
    from amlocal.store import open_store
    assert studio.get("/api/v1/workspaces", auth=False).status_code == 200
    assert studio.get("/api/v1/workspaces").status_code == 200
    wrong = studio.get("/api/v1/workspaces", auth=False,
                       headers={"Authorization": "Bearer aml_not-a-key"})
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"] == "Bearer"
    assert "keys create" in wrong.json()["detail"]

    open_store().revoke_api_key("tests")
    revoked = studio.get("/api/v1/workspaces")
    assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]


def test_every_state_changing_route_needs_a_valid_key(studio, workspace):
    from amlocal.store import open_store
    doc = httpx.get(f"{studio.url}/openapi.json", timeout=30).json()
    routes = _state_changing_routes(doc)
    assert routes, "the server offers no state-changing route yet"
    for method, path in routes:
        url = f"{studio.url}{_filled(path, workspace)}"
        bare = httpx.request(method, url, json={}, timeout=30)
        assert bare.status_code == 401, (method, path, bare.text)
        wrong = httpx.request(method, url, json={}, timeout=30,
                              headers={"Authorization": "Bearer aml_guessed"})
        assert wrong.status_code == 401, (method, path, wrong.text)
        basic = httpx.request(method, url, json={}, timeout=30,
                              headers={"Authorization": f"Basic {studio.key}"})
        assert basic.status_code == 401, (method, path, basic.text)
    open_store().revoke_api_key("tests")
    for method, path in routes:
        revoked = httpx.request(method, f"{studio.url}{_filled(path, workspace)}", json={},
                                timeout=30,
                                headers=studio.headers)
        assert revoked.status_code == 401, (method, path, revoked.text)


def test_the_auth_classes_header_is_let_in(studio, workspace):
    from amlocal.core.authentication import InteractiveLoginAuthentication
    header = InteractiveLoginAuthentication().get_authentication_header()
    assert header["Authorization"].startswith("Bearer aml_")
    assert studio.get("/api/v1/workspaces", auth=False, headers=header).status_code == 200
    doc = httpx.get(f"{studio.url}/openapi.json", timeout=30).json()
    for method, path in _state_changing_routes(doc):
        answer = httpx.request(method, f"{studio.url}{_filled(path, workspace)}", json={},
                               timeout=30, headers=header)
        assert answer.status_code != 401, (method, path, answer.text)


def test_beyond_loopback_reads_need_a_key_too(home):
    """A server on the wildcard address (reachable from other machines): reads without a key
    are refused; with a key they are answered."""
    from amlocal._engine import studio as engine
    from amlocal.store import open_store
    info = engine.start(host="0.0.0.0", notice=False)
    _, key = open_store().create_api_key("remote")
    assert info.host == "0.0.0.0"
    bare = httpx.get(f"{info.url}/api/v1/workspaces", timeout=30)
    assert bare.status_code == 401 and "beyond this machine" in bare.json()["detail"]
    keyed = httpx.get(f"{info.url}/api/v1/workspaces", timeout=30,
                      headers={"Authorization": f"Bearer {key}"})
    assert keyed.status_code == 200
    doc = httpx.get(f"{info.url}/openapi.json", timeout=30).json()
    for path, item in doc["paths"].items():
        if "get" in item and path.startswith("/api/"):
            answer = httpx.get(f"{info.url}{_filled(path)}", timeout=30)
            assert answer.status_code == 401, (path, answer.text)


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("0.0.0.0", False), ("::", False), ("192.168.1.5", False),
    ("example.org", False), ("", False)])
def test_which_binds_are_loopback(host, loopback):
    from amlocal.server.auth import is_loopback
    assert is_loopback(host) is loopback
