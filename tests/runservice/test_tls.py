"""The run service over TCP with TLS, as steps on Ray cluster nodes reach it: a real SqlStore, a
real RunService listening with the certificate the home's CA signs (``_tls.service_tls``), and
RemoteStore clients that verify it (or are refused, saying why)."""
from __future__ import annotations

import os
import shutil
import socket
import stat
import tempfile

import pytest

from amlocal.errors import StoreError, UserErrorException
from amlocal.runservice import RemoteStore, RunService
from amlocal.runservice._tls import service_tls, split_address
from amlocal.runservice.client import CA_VAR
from amlocal.store import open_store
from amlocal.store.entities import MetricRecord, ModelInfo, RunInfo, WorkspaceInfo


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("AMLOCAL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AMLOCAL_STORE_URL", raising=False)
    monkeypatch.delenv(CA_VAR, raising=False)
    store = open_store()
    store.create_workspace(WorkspaceInfo(id="ws1", name="ws1", subscription_id="sub",
                                         resource_group="rg"))
    store.create_run(RunInfo(id="pipe", workspace_id="ws1", experiment="exp", kind="pipeline"))
    store.create_run(RunInfo(id="step", workspace_id="ws1", experiment="exp", kind="step",
                             parent_id="pipe"))
    return store


@pytest.fixture
def tls(tmp_path):
    return service_tls(tmp_path / "home", ["127.0.0.1"])


@pytest.fixture
def service(store, tls):
    with RunService(store, host="127.0.0.1", tls=tls.server_context()) as service:
        yield service


def test_the_home_keeps_one_ca_and_private_files(tmp_path, tls):
    folder = tmp_path / "home" / "tls"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for name in ("ca.pem", "ca-key.pem", "server.pem", "server-key.pem"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name
    assert tls.ca_pem == (folder / "ca.pem").read_text()
    from cryptography import x509
    first = x509.load_pem_x509_certificate(tls.cert_file.read_bytes())
    again = service_tls(tmp_path / "home", ["127.0.0.1"])
    assert again.ca_pem == tls.ca_pem           # the CA is made once per home
    assert x509.load_pem_x509_certificate(again.cert_file.read_bytes()) == first
    wider = service_tls(tmp_path / "home", ["10.9.8.7", "head.example"])
    assert wider.ca_pem == tls.ca_pem
    sans = x509.load_pem_x509_certificate(wider.cert_file.read_bytes()).extensions \
        .get_extension_for_class(x509.SubjectAlternativeName).value
    ips = {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    assert {"10.9.8.7", "127.0.0.1", "::1"} <= ips
    assert {"head.example", "localhost", socket.gethostname().lower()} <= \
        set(sans.get_values_for_type(x509.DNSName))
    other = service_tls(tmp_path / "other-home", ["127.0.0.1"])
    assert other.ca_pem != tls.ca_pem


def test_a_step_calls_the_api_over_tls(service, tls, tmp_path, monkeypatch):
    assert service.tcp_url.startswith("https://127.0.0.1:")
    remote = RemoteStore(service.tcp_url, service.grant("step"), ca=tls.ca_pem)
    assert remote.get_run("step").parent_id == "pipe"
    remote.log_metrics("step", [MetricRecord(name="loss", kind="scalar", value=v, step=i)
                                for i, v in enumerate([0.5, 0.25, 0.125])])
    assert [r.value for r in service.store.get_metric_records("step", "loss")] == \
        [0.5, 0.25, 0.125]
    payload = tmp_path / "payload.bin"
    payload.write_bytes(os.urandom(3 << 20))      # several TLS records, streamed
    remote.put_artifact("step", "outputs/payload.bin", payload)
    back = remote.fetch_artifact("step", "outputs/payload.bin", tmp_path / "back.bin")
    assert back.read_bytes() == payload.read_bytes()
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.txt").write_text("42")
    info = remote.register_model(ModelInfo(workspace_id="ws1", name="m", version=0, path="",
                                           run_id="step"), model)
    fetched = remote.fetch_model(info, tmp_path / "fetched")
    assert (fetched / "weights.txt").read_text() == "42"
    # the CA as the path of a PEM file, and from the environment (as the runner hands it)
    path = tmp_path / "home" / "tls" / "ca.pem"
    assert RemoteStore(service.tcp_url, service.grant("step"), ca=str(path)).get_run("step")
    monkeypatch.setenv(CA_VAR, tls.ca_pem)
    assert RemoteStore(service.tcp_url, service.grant("step")).get_run("step").id == "step"
    # a name the certificate covers works as well as the address
    local = service.tcp_url.replace("127.0.0.1", "localhost")
    assert RemoteStore(local, service.grant("step")).get_run("step").id == "step"


def test_another_ca_is_refused_clearly(service, tmp_path):
    stranger = service_tls(tmp_path / "another-home", ["127.0.0.1"])
    remote = RemoteStore(service.tcp_url, service.grant("step"), ca=stranger.ca_pem)
    with pytest.raises(StoreError, match="its certificate does not verify against the CA this "
                                         f"step was given in {CA_VAR}"):
        remote.get_run("step")


def test_an_address_the_certificate_does_not_name_is_refused(store, tls):
    """The certificate names 127.0.0.1 (and this machine's name): the service reached at
    127.0.0.2 (the same listener) does not prove it is the one the CA vouched for there."""
    with RunService(store, host="0.0.0.0", tls=tls.server_context()) as service:
        url = f"https://127.0.0.2:{service.port}"
        with pytest.raises(StoreError, match="does not verify.*IP address mismatch"):
            RemoteStore(url, service.grant("step"), ca=tls.ca_pem).get_run("step")
        ok = RemoteStore(f"https://127.0.0.1:{service.port}", service.grant("step"), ca=tls.ca_pem)
        assert ok.get_run("step").id == "step"


def test_the_token_is_still_required(service, tls):
    with pytest.raises(UserErrorException, match="its token is missing, unknown or revoked"):
        RemoteStore(service.tcp_url, "not-a-token", ca=tls.ca_pem).get_run("step")
    token = service.grant("step")
    remote = RemoteStore(service.tcp_url, token, ca=tls.ca_pem)
    assert remote.get_run("step").id == "step"
    service.revoke(token)
    with pytest.raises(UserErrorException, match="its token is missing, unknown or revoked"):
        remote.get_run("step")
    # what a token may do is the same step API as over the socket
    with pytest.raises(UserErrorException, match="a step may read its workspace's runs"):
        RemoteStore(service.tcp_url, service.grant("step"), ca=tls.ca_pem).delete_workspace("ws1")


def test_plain_http_to_the_tls_port_fails_clearly(service, tls):
    plain = service.tcp_url.replace("https://", "http://")
    remote = RemoteStore(plain, service.grant("step"))
    with pytest.raises(StoreError, match="this run service speaks HTTPS only: reach it at "
                                         "https://HOST:PORT"):
        remote.get_run("step")
    # an upload too: the answer arrives although the body was never read as a request
    with pytest.raises(StoreError, match="speaks HTTPS only"):
        remote.append_artifact("step", "logs/x.txt", b"y" * 200_000)
    assert service.store.list_artifacts("step") == []
    # the listener goes on serving TLS clients
    assert RemoteStore(service.tcp_url, service.grant("step"),
                       ca=tls.ca_pem).get_run("step").id == "step"


def test_https_to_a_plain_listener_and_missing_ca_fail_clearly(store, tls, monkeypatch):
    with RunService(store, host="127.0.0.1") as plain:
        assert plain.tcp_url.startswith("http://")
        url = plain.tcp_url.replace("http://", "https://")
        with pytest.raises(StoreError, match="did not complete a TLS handshake.*is it an "
                                             "https:// service"):
            RemoteStore(url, plain.grant("step"), ca=tls.ca_pem).get_run("step")
        # plain HTTP where it is served today keeps working
        assert RemoteStore(plain.tcp_url, plain.grant("step")).get_run("step").id == "step"
    with pytest.raises(UserErrorException, match=f"is https but no CA certificate.*set {CA_VAR}"):
        RemoteStore("https://127.0.0.1:1", "t")
    monkeypatch.setenv(CA_VAR, "not a certificate")
    with pytest.raises(StoreError, match=f"{CA_VAR} must hold the run service's CA certificate"):
        RemoteStore("https://127.0.0.1:1", "t")


def test_a_listener_added_to_a_running_service_shares_its_tokens(store, tls):
    folder = tempfile.mkdtemp(prefix="amlrs-", dir="/tmp")
    try:
        with RunService(store, socket_path=os.path.join(folder, "run.sock")) as service:
            token = service.grant("step")
            url = service.serve_tcp("127.0.0.1", 0, tls=tls.server_context())
            assert url.startswith("https://127.0.0.1:")
            assert RemoteStore(url, token, ca=tls.ca_pem).get_run("step").id == "step"
            assert RemoteStore(service.url, token).get_run("step").id == "step"
            service.revoke(token)
            with pytest.raises(UserErrorException, match="revoked"):
                RemoteStore(url, token, ca=tls.ca_pem).get_run("step")
            with pytest.raises(StoreError, match="cannot listen at 203.0.113.7:0"):
                service.serve_tcp("203.0.113.7", 0, tls=tls.server_context())
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_service_addresses_are_checked():
    assert split_address("10.0.0.5") == ("10.0.0.5", 0)
    assert split_address("10.0.0.5:8765") == ("10.0.0.5", 8765)
    assert split_address("[fd00::5]:8765") == ("fd00::5", 8765)
    assert split_address("head-1.example") == ("head-1.example", 0)
    for bad in ("10.0.0.5:99999", "a b", "http://x:1", "[nothere", ""):
        with pytest.raises(UserErrorException, match="is not an address the run service can "
                                                     "listen at"):
            split_address(bad)
