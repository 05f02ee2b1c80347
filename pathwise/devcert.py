"""A local certificate authority and a server certificate for development (`make dev-cert`).

    pathwise dev-cert              # $PATHWISE_HOME/tls/{ca,server}.pem and their keys (0600)

Made offline with `cryptography`, nothing downloaded. The CA is kept between runs, so a browser or
client that trusts `ca.pem` keeps trusting the server certificates issued later; `--new-ca`
replaces it. The CA may only vouch for the names it was made for (an X.509 name constraint:
localhost, 127.0.0.0/8, ::1 and any `--host` given), so its key, if it leaks, cannot impersonate
other sites to a browser that trusts it. Keys are P-256 (instant to make, accepted everywhere);
server certificates last 397 days, under the 398 that browsers accept.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")
CA_DAYS, SERVER_DAYS = 3650, 397
LOOPBACK_NETS = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


class DevCertError(ValueError):
    """The certificates cannot be made as asked; the message says what to do."""


@dataclass(frozen=True)
class DevCert:
    ca: Path  # trust this one (browsers, `httpx.Client(verify=...)`, PATHWISE_TRUSTED_CA_FILE)
    cert: Path  # PATHWISE_TLS_CERT: the server certificate followed by the CA
    key: Path  # PATHWISE_TLS_KEY
    hosts: tuple[str, ...]
    new_ca: bool


def make_dev_cert(folder: Path, hosts: tuple[str, ...] = (), *, new_ca: bool = False) -> DevCert:
    """Issue a server certificate for localhost (and `hosts`) from the local CA in `folder`."""
    names = tuple(dict.fromkeys((*DEFAULT_HOSTS, *hosts)))
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    ca_path, ca_key_path = folder / "ca.pem", folder / "ca-key.pem"
    made_ca = new_ca or not (ca_path.exists() and ca_key_path.exists())
    if made_ca:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = _ca_certificate(ca_key, names)
        _write(ca_key_path, _key_pem(ca_key), 0o600)
        _write(ca_path, ca.public_bytes(serialization.Encoding.PEM), 0o644)
    else:
        ca = x509.load_pem_x509_certificate(ca_path.read_bytes())
        loaded = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise DevCertError(f"{ca_key_path} is not this command's CA key: run with --new-ca")
        ca_key = loaded
        outside = [h for h in names if not _permitted(ca, h)]
        if outside:
            raise DevCertError(
                f"the local CA in {folder} may not vouch for {', '.join(outside)} (it was made "
                "for other names): run `pathwise dev-cert --new-ca` with every --host you need, "
                "then trust the new ca.pem again"
            )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _server_certificate(key, names, ca, ca_key)
    key_path, cert_path = folder / "server-key.pem", folder / "server.pem"
    _write(key_path, _key_pem(key), 0o600)
    chain = cert.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(
        serialization.Encoding.PEM
    )
    _write(cert_path, chain, 0o644)
    return DevCert(ca=ca_path, cert=cert_path, key=key_path, hosts=names, new_ca=made_ca)


def _general_names(hosts: tuple[str, ...]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for h in hosts:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            out.append(x509.DNSName(h))
    return out


def _ca_certificate(key: ec.EllipticCurvePrivateKey, hosts: tuple[str, ...]) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Pathwise development"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Pathwise dev CA ({socket.gethostname()})"),
        ]
    )
    permitted: list[x509.GeneralName] = [x509.IPAddress(n) for n in LOOPBACK_NETS]
    for general in _general_names(hosts):
        if isinstance(general, x509.DNSName):
            permitted.append(general)
        elif not any(general.value in n for n in LOOPBACK_NETS):
            permitted.append(x509.IPAddress(ipaddress.ip_network(general.value)))
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            _key_usage("key_cert_sign", "crl_sign"),
            critical=True,
        )
        .add_extension(
            x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=None),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _server_certificate(
    key: ec.EllipticCurvePrivateKey,
    hosts: tuple[str, ...],
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(_general_names(hosts)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            _key_usage("digital_signature"),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


def _key_usage(*allowed: str) -> x509.KeyUsage:
    """A KeyUsage extension allowing only `allowed` (the constructor takes every flag)."""
    flags = (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    )
    return x509.KeyUsage(**{flag: flag in allowed for flag in flags})


def _permitted(ca: x509.Certificate, host: str) -> bool:
    """Whether the CA's name constraint lets it vouch for `host`."""
    try:
        subtrees = ca.extensions.get_extension_for_class(x509.NameConstraints).value
    except x509.ExtensionNotFound:
        return True
    for general in subtrees.permitted_subtrees or []:
        if isinstance(general, x509.IPAddress) and isinstance(general.value, _Networks):
            try:
                if ipaddress.ip_address(host) in general.value:
                    return True
            except ValueError:
                continue
        elif isinstance(general, x509.DNSName):
            allowed = general.value.lower()
            if host.lower() == allowed or host.lower().endswith("." + allowed):
                return True
    return False


_Networks = (ipaddress.IPv4Network, ipaddress.IPv6Network)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write atomically, created with `mode` (a key is never readable by others, even briefly)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)  # the umask may have taken bits away
    os.replace(tmp, path)
