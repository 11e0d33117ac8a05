"""https fetches: certificates and host names verified, failures said plainly.

The loopback feed server serving https (`use_tls`), its certificate issued for
127.0.0.1 by a test authority made here (`cryptography`): refused while the authority is unknown,
fetched once the process's context trusts it, refused again under a name the
certificate does not cover.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.ingest.fetch.fetching import RSS
from tests.ingest.test_forkparse import in_fresh_process
from tests.support.feedserver import FeedServer


@dataclass(frozen=True)
class Authority:
    """A test certificate authority and a server certificate it issued for 127.0.0.1."""

    ca_pem: str
    cert_file: Path
    key_file: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_authority(folder: Path) -> Authority:
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("briefbot test CA"))
        .issuer_name(_name("briefbot test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = folder / "server.pem", folder / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ca_pem = ca.public_bytes(serialization.Encoding.PEM).decode()
    return Authority(ca_pem, cert_file, key_file)


@pytest.fixture
def https_feed(tmp_path: Path) -> Iterator[tuple[str, Authority]]:
    """An https feed on 127.0.0.1 (the feed server), its certificate a test authority's."""
    authority = make_authority(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(authority.cert_file, authority.key_file)
    with FeedServer().use_tls(context) as server:
        yield server.add("/feed.xml", RSS), authority


FETCH = """
from bot.ingest.fetch.client import _ssl_context, fetch_feeds
from bot.models import FeedConfig, Settings

if TRUSTED:  # the process's one context (fetch/client.py) trusts the test authority too
    _ssl_context().load_verify_locations(cadata=CA)
feed = FeedConfig(id="tls", url=URL, allow_private=True)
[result] = fetch_feeds([feed], {}, Settings(connect_timeout=5, read_timeout=5, total_timeout=10))
print(json.dumps({
    "ok": result.ok, "status": result.status_code, "body": result.body.decode(),
    "error": result.error,
}))
"""


def fetch_in_fresh_process(url: str, authority: Authority, *, trusted: bool) -> dict[str, object]:
    """One fetch by a new process (its TLS context is made there)."""
    head = f"URL = {url!r}\nCA = {authority.ca_pem!r}\nTRUSTED = {trusted!r}\n"
    return in_fresh_process(head + FETCH)


def test_an_unknown_authority_is_refused_with_the_reason(
    https_feed: tuple[str, Authority],
) -> None:
    url, authority = https_feed
    seen = fetch_in_fresh_process(url, authority, trusted=False)
    host = url.split("/")[2]
    assert seen["ok"] is False
    assert seen["error"] == (
        f"could not connect to {host}: "
        "TLS certificate not valid (unable to get local issuer certificate)"
    )


def test_a_trusted_authority_is_fetched(https_feed: tuple[str, Authority]) -> None:
    url, authority = https_feed
    seen = fetch_in_fresh_process(url, authority, trusted=True)
    assert (seen["ok"], seen["status"], seen["error"]) == (True, 200, None)
    assert seen["body"] == RSS.decode()


def test_a_name_the_certificate_does_not_cover_is_refused(
    https_feed: tuple[str, Authority],
) -> None:
    # The certificate is for 127.0.0.1; "localhost" reaches the same server.
    url, authority = https_feed
    port = url.split("/")[2].split(":")[1]
    seen = fetch_in_fresh_process(url.replace("127.0.0.1", "localhost"), authority, trusted=True)
    assert seen["ok"] is False
    assert seen["error"] == (
        f"could not connect to localhost:{port}: TLS certificate not valid "
        "(Hostname mismatch, certificate is not valid for 'localhost'.)"
    )
