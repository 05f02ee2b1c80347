"""Encryption in transit: the certificate our servers present, and the rule for every outgoing call.

Serving (`pathwise serve`, `pathwise app`): `server_tls(host, component)` gives the certificate and
key from `PATHWISE_TLS_CERT` / `PATHWISE_TLS_KEY`, loaded once to prove they form a pair. Without
them a server speaks plain HTTP, which is allowed only where nobody else can listen:
    - on loopback (127.0.0.1, ::1, localhost), for development;
    - beyond loopback only with `PATHWISE_ALLOW_PLAINTEXT_LISTEN=true` (a proxy on a private
      network terminates TLS in front of it);
    - never with `PATHWISE_ENV=production`: there both servers need a certificate, so traffic is
      encrypted up to the process that holds the data.
`make dev-cert` makes a local CA and a certificate for localhost (pathwise/devcert.py).

Outgoing (the LLM and embeddings endpoints, the drift webhook, and any later sender, e.g. SMTP):
every caller passes its URL through `check_outgoing(url, setting)` before connecting and connects
with `outgoing_ssl_context()`, which verifies certificates against certifi's roots plus
`PATHWISE_TRUSTED_CA_FILE` (a company CA, or the dev CA in tests). Secure schemes are `https` and
`smtps`; plain `http` and `smtp` (whose STARTTLS an attacker can strip) are refused unless the host
is listed in `PATHWISE_ALLOW_PLAINTEXT_HOSTS` (empty by default: even loopback must be named, so
the choice is written down). An SMTP sender would call `check_outgoing("smtps://host:465", ...)` and
`smtplib.SMTP_SSL(host, port, context=outgoing_ssl_context())`.
"""

from __future__ import annotations

import json
import logging
import ssl
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import certifi

from pathwise.api_keys import is_loopback
from pathwise.settings import Settings, get_settings

SECURE_SCHEMES = {"https", "smtps"}
PLAINTEXT_SCHEMES = {"http": "https", "smtp": "smtps"}  # -> the scheme to use instead
log = logging.getLogger("pathwise")


class TLSConfigError(ValueError):
    """The server cannot start with these TLS settings; the message says what to set."""


class OutgoingRefused(ValueError):
    """An outgoing connection that would be unencrypted or unverifiable; the message says what to
    set."""


@dataclass(frozen=True)
class ServerTLS:
    cert: Path
    key: Path


def server_tls(host: str, component: str, settings: Settings | None = None) -> ServerTLS | None:
    """The certificate `component` serves on `host`, or None for plain HTTP where that is allowed.

    Raises `TLSConfigError` (saying what to set) for half-set or unusable files, for plain HTTP in
    production, and for plain HTTP beyond loopback unless PATHWISE_ALLOW_PLAINTEXT_LISTEN is set.
    """
    s = settings or get_settings()
    if s.tls_cert is None and s.tls_key is None:
        if s.env == "production":
            raise TLSConfigError(
                f"PATHWISE_ENV=production: {component} serves HTTPS only. Set PATHWISE_TLS_CERT "
                "and PATHWISE_TLS_KEY to your certificate (chain) and key files."
            )
        if is_loopback(host) or s.allow_plaintext_listen:
            return None
        raise TLSConfigError(
            f"Refusing to serve plain HTTP on {host}: anyone on that network could read it. "
            "Set PATHWISE_TLS_CERT and PATHWISE_TLS_KEY (`make dev-cert` makes a local pair), "
            "keep the default host 127.0.0.1, or set PATHWISE_ALLOW_PLAINTEXT_LISTEN=true if a "
            "proxy in front terminates TLS."
        )
    if s.tls_cert is None or s.tls_key is None:
        raise TLSConfigError("Set both PATHWISE_TLS_CERT and PATHWISE_TLS_KEY, or neither.")
    try:  # the same check a TLS server makes, now rather than at the first connection
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(s.tls_cert, s.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise TLSConfigError(
            f"PATHWISE_TLS_CERT={s.tls_cert} and PATHWISE_TLS_KEY={s.tls_key} cannot be used "
            f"({exc}): they must be readable PEM files, the certificate first in its chain and "
            "the key its private key."
        ) from exc
    if s.tls_key.stat().st_mode & 0o077:
        log.warning("%s is readable by other users: `chmod 600 %s`", s.tls_key, s.tls_key)
    return ServerTLS(cert=s.tls_cert, key=s.tls_key)


def check_served_tls(cert_in_use: str | None, component: str) -> None:
    """In production, refuse a server already started without a certificate (e.g. the app run by
    `streamlit run` directly rather than `pathwise app`)."""
    if get_settings().env == "production" and not cert_in_use:
        raise TLSConfigError(
            f"PATHWISE_ENV=production: {component} serves HTTPS only. Start it with `pathwise "
            "app` and PATHWISE_TLS_CERT / PATHWISE_TLS_KEY set (or Streamlit's "
            "server.sslCertFile / server.sslKeyFile)."
        )


def check_outgoing(url: str, setting: str, settings: Settings | None = None) -> str:
    """`url` if a connection to it is encrypted, or its host is explicitly allowed plain traffic.

    `setting` names the variable the URL came from, so the refusal says what to change.
    """
    s = settings or get_settings()
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme in SECURE_SCHEMES and host:
        return url
    if scheme in PLAINTEXT_SCHEMES and host:
        if host in s.plaintext_hosts:
            return url
        raise OutgoingRefused(
            f"{setting}={url} is plain {scheme}: what it carries could be read or changed on the "
            f"way. Use {PLAINTEXT_SCHEMES[scheme]}://, or, for a server you trust on a private "
            f"link (e.g. a local model on loopback), allow it explicitly with "
            f"PATHWISE_ALLOW_PLAINTEXT_HOSTS={host}."
        )
    raise OutgoingRefused(f"{setting}={url} is not an https URL with a host name.")


def outgoing_ssl_context(settings: Settings | None = None) -> ssl.SSLContext:
    """Verifies the peer's certificate and host name: certifi's roots plus the trusted CA file."""
    s = settings or get_settings()
    context = ssl.create_default_context(cafile=certifi.where())
    if s.trusted_ca_file:
        try:
            context.load_verify_locations(cafile=s.trusted_ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise OutgoingRefused(
                f"PATHWISE_TRUSTED_CA_FILE={s.trusted_ca_file} cannot be read as PEM "
                f"certificates ({exc})"
            ) from exc
    return context


def post_json(url: str, body: dict, setting: str, timeout: float = 5) -> int:
    """POST `body` as JSON to an allowed URL over a verified connection; the answer's status."""
    data = json.dumps(body, default=str).encode()
    return post_bytes(url, data, {"Content-Type": "application/json"}, setting, timeout)


def post_bytes(
    url: str, data: bytes, headers: dict[str, str], setting: str, timeout: float = 5
) -> int:
    """POST `data` to an allowed URL over a verified connection, redirects refused; the answer's
    status (an HTTP error status raises urllib's HTTPError)."""
    check_outgoing(url, setting)
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=outgoing_ssl_context()), _NoRedirect()
    )
    with opener.open(request, timeout=timeout) as response:
        return response.status


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect could lead to plain http past the check: answer it as the error it is here."""

    def redirect_request(self, *args, **kwargs) -> None:
        return None
