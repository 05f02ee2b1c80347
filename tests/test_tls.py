"""Encryption in transit: `pathwise dev-cert`, the read API over verified HTTPS, the refusals of plain
HTTP (serving beyond loopback, in production, outgoing calls) and outgoing calls verified against a
CA. The app over HTTPS in a real browser is in tests/test_browser.py.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.verification import DNSName, IPAddress, PolicyBuilder, Store
from typer.testing import CliRunner

from pathwise.devcert import DevCert, make_dev_cert
from pathwise.settings import Settings, get_settings
from pathwise.tls import (
    OutgoingRefused,
    TLSConfigError,
    check_outgoing,
    check_served_tls,
    post_json,
    server_tls,
)


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> dict[str, DevCert]:
    """The local CA and server certificate, and another CA nobody should trust."""
    root = tmp_path_factory.mktemp("tls")
    return {"local": make_dev_cert(root / "local"), "other": make_dev_cert(root / "other")}


def load(path: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes())


def verifier(ca: Path, name: x509.verification.Subject):
    return PolicyBuilder().store(Store(load(ca))).build_server_verifier(name)


# ---------------------------------------------------------------- pathwise dev-cert


def test_dev_cert_makes_a_local_ca_and_a_server_certificate_for_localhost(tmp_path, monkeypatch):
    import ipaddress

    from cli import app

    monkeypatch.setenv("PATHWISE_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    first = CliRunner().invoke(app, ["dev-cert"])
    assert first.exit_code == 0, first.output
    folder = get_settings().tls_dir
    assert "PATHWISE_TLS_CERT=" + str(folder / "server.pem") in first.output
    modes = {p.name: p.stat().st_mode & 0o777 for p in folder.iterdir()}
    assert modes == {
        "ca.pem": 0o644,
        "ca-key.pem": 0o600,
        "server.pem": 0o644,
        "server-key.pem": 0o600,
    }
    assert folder.stat().st_mode & 0o777 == 0o700
    leaf, *chain = load(folder / "server.pem")
    for name in (DNSName("localhost"), IPAddress(ipaddress.ip_address("127.0.0.1"))):
        verifier(folder / "ca.pem", name).verify(leaf, chain)  # raises if not
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc <= dt.timedelta(days=398)

    ca_before, leaf_before = (folder / "ca.pem").read_bytes(), (folder / "server.pem").read_bytes()
    again = CliRunner().invoke(app, ["dev-cert"])
    assert again.exit_code == 0 and "kept the local CA" in again.output
    assert (folder / "ca.pem").read_bytes() == ca_before  # browsers that trust it keep trusting
    assert (folder / "server.pem").read_bytes() != leaf_before
    outside = CliRunner().invoke(app, ["dev-cert", "--host", "10.1.2.3"])
    assert outside.exit_code == 2 and "--new-ca" in outside.output
    get_settings.cache_clear()


def test_the_local_ca_cannot_vouch_for_other_sites(certs):
    """Its key, if leaked, signs a certificate for a public name: verification refuses that."""
    local = certs["local"]
    ca = load(local.ca)[0]
    ca_key = serialization.load_pem_private_key(
        (local.ca.parent / "ca-key.pem").read_bytes(), password=None
    )
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)

    def issue(name: str) -> x509.Certificate:
        now, key = dt.datetime.now(dt.UTC), ec.generate_private_key(ec.SECP256R1())
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, name)]))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )

    verifier(local.ca, DNSName("localhost")).verify(issue("localhost"), [])  # the same recipe
    with pytest.raises(x509.verification.VerificationError, match=r"[Nn]ame constraint"):
        verifier(local.ca, DNSName("bank.example")).verify(issue("bank.example"), [])


# ---------------------------------------------------------------- the read API over HTTPS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def https_api(certs, tmp_path_factory) -> Iterator[str]:
    """`pathwise serve` as a real process with the local certificate (no snapshot: /health 503)."""
    local, port = certs["local"], free_port()
    env = {
        **os.environ,
        "PATHWISE_HOME": str(tmp_path_factory.mktemp("api-home")),
        "PATHWISE_WAREHOUSE_KEY": "",
        "PATHWISE_TLS_CERT": str(local.cert),
        "PATHWISE_TLS_KEY": str(local.key),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"https://127.0.0.1:{port}"
    try:
        for _ in range(300):
            assert proc.poll() is None, f"pathwise serve exited with {proc.returncode}"
            try:
                httpx.get(f"{url}/health", verify=str(local.ca), timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)


def test_the_api_answers_over_https_verified_against_the_local_ca(https_api, certs):
    for url in (https_api, https_api.replace("127.0.0.1", "localhost")):
        answer = httpx.get(f"{url}/health", verify=str(certs["local"].ca))
        assert answer.json()["status"] == "unavailable"  # the API itself: no snapshot yet
    port = int(https_api.rsplit(":", 1)[1])
    context = ssl.create_default_context(cafile=certs["local"].ca)
    with (
        socket.create_connection(("127.0.0.1", port)) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.version() in ("TLSv1.3", "TLSv1.2")


def test_plain_http_to_the_https_port_gets_no_answer(https_api):
    with pytest.raises(httpx.TransportError):
        httpx.get(https_api.replace("https://", "http://") + "/health")


@pytest.mark.parametrize("trust", ["other", "public roots"])
def test_a_client_that_does_not_trust_the_local_ca_refuses_the_api(https_api, certs, trust):
    verify: str | bool = str(certs["other"].ca) if trust == "other" else True
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{https_api}/health", verify=verify)


# ---------------------------------------------------------------- when plain HTTP may be served


def settings(**values) -> Settings:
    base = {"tls_cert": "", "tls_key": "", "env": "development", "allow_plaintext_listen": False}
    return Settings(**{**base, **values})


def test_plain_http_is_served_on_loopback_only_unless_allowed():
    assert server_tls("127.0.0.1", "x", settings()) is None
    assert server_tls("::1", "x", settings()) is None
    with pytest.raises(TLSConfigError, match="PATHWISE_ALLOW_PLAINTEXT_LISTEN"):
        server_tls("0.0.0.0", "x", settings())
    assert server_tls("0.0.0.0", "x", settings(allow_plaintext_listen=True)) is None
    for host, allowed in (("127.0.0.1", False), ("0.0.0.0", True)):
        with pytest.raises(TLSConfigError, match="production: x serves HTTPS only"):
            server_tls(host, "x", settings(env="production", allow_plaintext_listen=allowed))


def test_tls_files_must_be_a_readable_pair(certs):
    local, other = certs["local"], certs["other"]
    found = server_tls("0.0.0.0", "x", settings(tls_cert=local.cert, tls_key=local.key))
    assert found is not None and found.cert == local.cert
    with pytest.raises(TLSConfigError, match="both"):
        server_tls("127.0.0.1", "x", settings(tls_cert=local.cert))
    with pytest.raises(TLSConfigError, match="cannot be used"):
        server_tls("127.0.0.1", "x", settings(tls_cert=local.cert, tls_key=other.key))


@pytest.mark.parametrize("command", ["serve", "app"])
def test_the_servers_refuse_plain_http_beyond_loopback(command, tmp_path, monkeypatch):
    from cli import app
    from pathwise.api_keys import KeyStore

    monkeypatch.setenv("PATHWISE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PATHWISE_TLS_CERT", "")
    get_settings.cache_clear()
    KeyStore().create("platform", "service")  # so the API's own refusal (no key yet) passes
    refused = CliRunner().invoke(app, [command, "--host", "0.0.0.0"])
    assert refused.exit_code == 2
    assert "Refusing to serve plain HTTP on 0.0.0.0" in refused.output
    get_settings.cache_clear()


def test_production_needs_a_certificate_even_with_every_secret_set(tmp_path, monkeypatch, certs):
    from cli import app

    for name, value in {
        "PATHWISE_HOME": str(tmp_path / "home"),
        "PATHWISE_ENV": "production",
        "PATHWISE_PSEUDONYM_KEY": "p" * 32,
        "PATHWISE_WAREHOUSE_KEY": "w" * 32,
        "PATHWISE_TLS_CERT": "",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    for command in ("serve", "app"):
        refused = CliRunner().invoke(app, [command])
        assert refused.exit_code == 2 and "serves HTTPS only" in refused.output
        assert "PATHWISE_PSEUDONYM_KEY" not in refused.output  # only what is still wrong
    # The app run by `streamlit run` without a certificate, then with one:
    with pytest.raises(TLSConfigError, match="serves HTTPS only"):
        check_served_tls(None, "the app")
    check_served_tls(str(certs["local"].cert), "the app")
    get_settings.cache_clear()


# ---------------------------------------------------------------- outgoing connections


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://hooks.example.com/x", True),
        ("smtps://mail.example.com:465", True),
        ("http://hooks.example.com/x", False),
        ("http://127.0.0.1:8080/v1", False),  # loopback too: plain traffic is named, not assumed
        ("smtp://mail.example.com:25", False),
        ("ftp://files.example.com/x", False),
        ("https:///no-host", False),
    ],
)
def test_outgoing_urls_must_be_encrypted(url, allowed):
    s = settings(allow_plaintext_hosts="")
    if allowed:
        assert check_outgoing(url, "PATHWISE_X", s) == url
    else:
        with pytest.raises(OutgoingRefused, match="PATHWISE_X="):
            check_outgoing(url, "PATHWISE_X", s)


def test_plain_http_is_allowed_only_to_the_hosts_named():
    s = settings(allow_plaintext_hosts="127.0.0.1, LocalHost")
    assert check_outgoing("http://localhost:8080/v1", "PATHWISE_X", s)
    with pytest.raises(OutgoingRefused, match=r"PATHWISE_ALLOW_PLAINTEXT_HOSTS=10\.0\.0\.9"):
        check_outgoing("http://10.0.0.9/v1", "PATHWISE_X", s)


class Recorder(BaseHTTPRequestHandler):
    """A webhook and an OpenAI-compatible /embeddings endpoint; remembers what reached it."""

    received: ClassVar[list[tuple[str, dict]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.received.append((self.path, body))
        if self.path.endswith("/redirect"):
            self.send_response(307)
            self.send_header("Location", "http://127.0.0.1:9/hook")
            self.end_headers()
            return
        if self.path.endswith("/embeddings"):
            data = [
                {"object": "embedding", "index": i, "embedding": [1.0, float(i), 0.0, 0.5]}
                for i in range(len(body["input"]))
            ]
            payload = json.dumps({"object": "list", "data": data, "model": body["model"]})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload.encode())
            return
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def https_hook(certs) -> Iterator[str]:
    """An HTTPS endpoint on loopback with the local certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs["local"].cert, certs["local"].key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://localhost:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def trusting(certs, monkeypatch):
    """Outgoing calls trust the local CA; plain http is allowed nowhere."""
    monkeypatch.setenv("PATHWISE_TRUSTED_CA_FILE", str(certs["local"].ca))
    monkeypatch.setenv("PATHWISE_ALLOW_PLAINTEXT_HOSTS", "")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_a_webhook_over_https_is_verified_against_the_trusted_ca(https_hook, trusting, monkeypatch):
    Recorder.received.clear()
    assert post_json(f"{https_hook}/hook", {"run_id": "r1"}, "PATHWISE_X") == 204
    assert Recorder.received == [("/hook", {"run_id": "r1"})]
    monkeypatch.setenv("PATHWISE_TRUSTED_CA_FILE", "")  # public roots only: not this server
    get_settings.cache_clear()
    with pytest.raises(OSError, match="CERTIFICATE_VERIFY_FAILED"):
        post_json(f"{https_hook}/hook", {"run_id": "r2"}, "PATHWISE_X")
    assert len(Recorder.received) == 1


def test_a_webhook_is_not_sent_over_plain_http_nor_redirected_there(https_hook, trusting, caplog):
    from ml.drift import _post

    Recorder.received.clear()
    plain = https_hook.replace("https://", "http://") + "/hook"
    with caplog.at_level(logging.ERROR, logger="pathwise.drift"):
        _post(plain, {"run_id": "r3"})  # the nightly run goes on; the log says what to set
    assert "drift webhook not called: PATHWISE_DRIFT_WEBHOOK_URL=" in caplog.text
    assert "PATHWISE_ALLOW_PLAINTEXT_HOSTS=localhost" in caplog.text
    assert Recorder.received == []
    with pytest.raises(OSError, match="307"):
        post_json(f"{https_hook}/redirect", {"run_id": "r4"}, "PATHWISE_X")


def test_the_openai_backends_refuse_plain_http_unless_allowed(caplog, monkeypatch):
    from rag.answer import LLMUnusable, OpenAIBackend
    from rag.embeddings import OpenAICompatibleEmbeddings

    url = "http://127.0.0.1:9/v1"  # nothing listens: a refusal must come before any connection
    refused = settings(llm_base_url=url, allow_plaintext_hosts="")
    with (
        caplog.at_level(logging.ERROR, logger="pathwise.rag"),
        pytest.raises(LLMUnusable, match="not encrypted and verified"),
    ):
        OpenAIBackend(refused)
    assert f"PATHWISE_LLM_BASE_URL={url}" in caplog.text and "is plain http" in caplog.text
    assert OpenAIBackend(settings(llm_base_url=url, allow_plaintext_hosts="127.0.0.1"))
    monkeypatch.setenv("PATHWISE_ALLOW_PLAINTEXT_HOSTS", "")
    get_settings.cache_clear()
    embed = OpenAICompatibleEmbeddings(name="m", dim=4, base_url=url)
    with pytest.raises(OutgoingRefused, match="PATHWISE_EMBEDDING_BASE_URL"):
        embed.generate_embeddings(["a question"])
    get_settings.cache_clear()


def test_embeddings_reach_an_https_endpoint_verified_against_the_trusted_ca(
    https_hook, trusting, monkeypatch
):
    import openai

    from rag.embeddings import OpenAICompatibleEmbeddings

    Recorder.received.clear()
    embed = OpenAICompatibleEmbeddings(name="m", dim=4, base_url=f"{https_hook}/v1")
    vectors = embed.generate_embeddings(["first", "second"])
    assert len(vectors) == 2 and Recorder.received[0][0] == "/v1/embeddings"
    monkeypatch.setenv("PATHWISE_TRUSTED_CA_FILE", "")
    get_settings.cache_clear()
    with pytest.raises(openai.APIConnectionError):
        embed.generate_embeddings(["third"])
    assert len(Recorder.received) == 1
