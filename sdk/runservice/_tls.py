"""TLS for the run service's TCP listener: a small CA per home and a server certificate it signs.

The machine whose runner serves the step API (the cluster's head, as far as steps are concerned)
creates them once under ``AMLOCAL_HOME/tls/`` (the folder 0700, every file 0600):

* ``ca.pem`` / ``ca-key.pem``: the CA (ECDSA P-256, ten years). Its certificate is handed to each
  step on a cluster node (``AMLOCAL_RUN_SERVICE_CA``), which verifies the service with it and
  with nothing else; its key never leaves this machine.
* ``server.pem`` / ``server-key.pem``: the service's certificate, signed by the CA (about two
  years; renewed 30 days before it ends). Its subject alternative names cover every address a
  runner of this home was asked to listen at (IP addresses or host names), this machine's host
  name, ``localhost``, ``127.0.0.1`` and ``::1``; asking for an address it does not cover issues
  a new one covering it too (a runner that loaded the old one keeps serving it).

Host side only: this module needs the ``cryptography`` package (the ``ray`` extra installs it);
steps verify with the standard library's ``ssl`` (:mod:`._transport`).
"""
from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from .._settings import private_file, secure_home, write_private
from ..errors import UserErrorException

CA_DAYS = 3650
SERVER_DAYS = 825
RENEW_DAYS = 30
ALWAYS = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class ServiceTls:
    """The files of a run service's TLS: its certificate and key, and the CA's certificate
    (PEM text) that steps verify it with."""

    cert_file: Path
    key_file: Path
    ca_pem: str

    def server_context(self) -> ssl.SSLContext:
        """A server-side context serving this certificate (TLS 1.2 at least), read under the
        folder's lock (another runner may be renewing the pair)."""
        from filelock import FileLock
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        with FileLock(str(self.cert_file.parent / ".lock")):
            context.load_cert_chain(str(self.cert_file), str(self.key_file))
        return context


def _crypto():
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError as exc:
        raise UserErrorException(
            "serving the step API over TLS (steps on Ray cluster nodes) needs the 'cryptography' "
            f"package, which is not installed ({exc}): pip install 'amlocal[ray]'") from None
    return x509, hashes, serialization, ec, ExtendedKeyUsageOID, NameOID


def _general_name(x509, name: str):
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _key_pem(serialization, key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def _cert_pem(serialization, cert) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _fresh(cert) -> bool:
    return cert.not_valid_after_utc - _now() > datetime.timedelta(days=RENEW_DAYS)


def _new_ca(folder: Path):
    x509, hashes, serialization, ec, _, NameOID = _crypto()
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                         f"amlocal run service CA ({socket.gethostname()})")])
    now = _now()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256()))
    write_private(folder / "ca-key.pem", _key_pem(serialization, key))
    write_private(folder / "ca.pem", _cert_pem(serialization, cert))
    return cert, key


def _new_server(folder: Path, ca_cert, ca_key, names: list[str]) -> None:
    x509, hashes, serialization, ec, ExtendedKeyUsageOID, NameOID = _crypto()
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(min(now + datetime.timedelta(days=SERVER_DAYS),
                                 ca_cert.not_valid_after_utc))
            .add_extension(x509.SubjectAlternativeName([_general_name(x509, n) for n in names]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=True, key_cert_sign=False, crl_sign=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    # the key first: a reader that finds the new certificate finds its key
    write_private(folder / "server-key.pem", _key_pem(serialization, key))
    write_private(folder / "server.pem", _cert_pem(serialization, cert))


def _covered(x509, cert) -> set[str]:
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {str(v) for v in sans.get_values_for_type(x509.IPAddress)} | \
        set(sans.get_values_for_type(x509.DNSName))


def _canonical(name: str) -> str:
    name = name.strip().strip("[]")
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name.lower()


def service_tls(home: Path, names) -> ServiceTls:
    """The run service's TLS files under ``home/tls``, created (the CA once per home) or renewed
    as needed so that the server certificate covers ``names`` (the addresses the service
    listens at: IP addresses or host names). Safe to call from several processes at once."""
    from filelock import FileLock
    x509, _, serialization, _, _, _ = _crypto()
    home = Path(home)
    folder = home / "tls"
    secure_home(home)
    secure_home(folder)   # 0700, as the home
    wanted = [_canonical(n) for n in names if n and n.strip()]
    with FileLock(str(private_file(folder / ".lock"))):
        ca_cert = ca_key = None
        if (folder / "ca.pem").is_file() and (folder / "ca-key.pem").is_file():
            ca_cert = x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())
            ca_key = serialization.load_pem_private_key((folder / "ca-key.pem").read_bytes(),
                                                        password=None)
            if not _fresh(ca_cert):
                ca_cert = None
        renew = ca_cert is None
        if renew:
            ca_cert, ca_key = _new_ca(folder)
        server = folder / "server.pem"
        covered: set[str] = set()
        if not renew and server.is_file() and (folder / "server-key.pem").is_file():
            cert = x509.load_pem_x509_certificate(server.read_bytes())
            if _fresh(cert) and cert.issuer == ca_cert.subject:
                covered = _covered(x509, cert)
            renew = not covered
        else:
            renew = True
        if renew or not set(wanted) <= covered:
            everything = dict.fromkeys([*wanted, _canonical(socket.gethostname()), *ALWAYS,
                                        *sorted(covered)])
            _new_server(folder, ca_cert, ca_key, list(everything))
        return ServiceTls(cert_file=server, key_file=folder / "server-key.pem",
                          ca_pem=(folder / "ca.pem").read_text("ascii"))


def split_address(text: str) -> tuple[str, int]:
    """``"IP"``, ``"IP:PORT"``, ``"HOST[:PORT]"`` or ``"[IPv6]:PORT"`` as (host, port); port 0
    when none is given (a free one is picked). Raises UserErrorException."""
    value = str(text).strip()
    host, port = value, "0"
    if value.startswith("["):
        host, closed, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ("0" if closed and not rest else "x")
    elif value.count(":") == 1:
        host, port = value.split(":")
    try:
        number = int(port)
        if not 0 <= number <= 65535:
            raise ValueError(port)
        if ":" in host:
            ipaddress.IPv6Address(host)
        elif not host or not all(part and (part.isalnum() or set(part) <= set(
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"))
                for part in host.split(".")):
            raise ValueError(host)
    except ValueError:
        raise UserErrorException(
            f"service_address {text!r} is not an address the run service can listen at: give "
            "this machine's IP address (or host name) as the cluster's nodes reach it, "
            "optionally with a port: '10.0.0.5', '10.0.0.5:8765' or '[fd00::5]:8765'") from None
    return host, number


def node_address() -> str:
    """This machine's address as Ray reports it to the cluster (``ray.util.get_node_ip_address``):
    what the nodes reach it at unless the compute target names a ``service_address``."""
    from amlocal.compute.ray import import_ray
    import_ray()
    from ray.util import get_node_ip_address
    return get_node_ip_address()
