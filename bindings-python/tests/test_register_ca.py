"""A Python callable registered as a CA connector (`Certloop.register_ca`) issues through an
outside CA built with `cryptography`; the façade still enforces policy and checks what comes
back; failures are typed CA errors with sensitive parameters redacted everywhere."""

from __future__ import annotations

import asyncio
import datetime
import logging
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import certloop
from conftest import request

API_KEY = "sk-live-7f3a9c2e1b8d4f60aa"
PARAMS = [
    {"name": "apiKey", "value": API_KEY, "sensitive": True},
    {"name": "endpoint", "value": "https://ca.outside.test"},
]


class OutsideCa:
    """A CA certloop knows nothing about: an EC key and a self-signed certificate."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Outside Test CA")])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                              data_encipherment=False, key_agreement=False, key_cert_sign=True,
                              crl_sign=True, encipher_only=False, decipher_only=False),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        self.calls: List[Tuple[str, Dict[str, str]]] = []

    @property
    def pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    def sign(self, csr_pem: str, common_name: str, args: Dict[str, str], *,
             extra_san: bool = False) -> str:
        """certificate_request(): a leaf for the CSR, then this CA's certificate."""
        self.calls.append((common_name, dict(args)))
        csr = x509.load_pem_x509_csr(csr_pem.encode())
        assert csr.is_signature_valid
        sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names: List[x509.GeneralName] = list(sans)
        if extra_san:
            names.append(x509.DNSName("smuggled.example.internal"))
        now = datetime.datetime.now(datetime.timezone.utc)
        leaf = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(self.certificate.subject)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        return leaf.public_bytes(serialization.Encoding.PEM).decode() + self.pem


@pytest.fixture
def outside() -> OutsideCa:
    return OutsideCa()


def use_connector(cl: certloop.Certloop, name: str, slug: str = "outside") -> str:
    """A profile under the default template whose issuer is the registered connector `name`."""
    cl.save_profile({"slug": slug, "templateId": "tls-server",
                     "issuer": {"type": "connector", "name": name}})
    return slug


def outside_request(cn: str, profile: str = "outside", **attributes: Any) -> Dict[str, Any]:
    req = request(cn, **attributes)
    req["profileId"] = profile
    return req


def test_a_sync_callable_issues_a_certificate_that_verifies_against_the_outside_ca(
    cl: certloop.Certloop, outside: OutsideCa, tmp_path: Path
) -> None:
    cl.register_ca("outside-ca", outside.sign, params=PARAMS)
    use_connector(cl, "outside-ca")
    issued = cl.issue(outside_request("app.outside.internal"))

    assert outside.calls == [("app.outside.internal",
                              {"apiKey": API_KEY, "endpoint": "https://ca.outside.test"})]
    leaf = x509.load_pem_x509_certificate(issued.certificate.encode())
    outside.certificate.public_key().verify(  # type: ignore[call-arg]
        leaf.signature, leaf.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256())  # type: ignore[arg-type]
    )
    assert leaf.issuer == outside.certificate.subject
    assert issued.issuing_ca_certificate.strip() == outside.pem.strip()
    # The library generated the key; the certificate certifies it.
    assert issued.private_key is not None
    key = serialization.load_pem_private_key(issued.private_key.encode(), password=None)
    assert key.public_key().public_numbers() == leaf.public_key().public_numbers()  # type: ignore[union-attr]

    (tmp_path / "ca.pem").write_text(outside.pem)
    (tmp_path / "leaf.pem").write_text(issued.certificate)
    out = subprocess.run(["openssl", "verify", "-CAfile", "ca.pem", "leaf.pem"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr

    record = cl.show(issued.certificate_id)
    assert record.profile_id is not None and record.issuer == "CN=Outside Test CA"
    assert record.state == "issued"


def test_a_csr_from_the_caller_goes_to_the_callable_and_no_key_comes_back(
    cl: certloop.Certloop, outside: OutsideCa
) -> None:
    cl.register_ca("outside-ca", outside.sign, params=PARAMS)
    use_connector(cl, "outside-ca")
    key = certloop.generate_key("EC_prime256v1")
    csr = certloop.build_csr(key, {"commonName": "csr.outside.internal",
                                   "altNames": [{"type": "DNS", "value": "csr.outside.internal"}]})
    issued = cl.issue({"profileId": "outside", "csr": csr.pem, "attributes": {"ttl": "30d"}})
    assert issued.private_key is None
    assert certloop.inspect_certificate(issued.certificate).key_algorithm == "EC_prime256v1"
    leaf = x509.load_pem_x509_certificate(issued.certificate.encode())
    assert leaf.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode() == key.public_key_pem


def test_an_async_callable_is_awaited_also_from_inside_an_event_loop(
    cl: certloop.Certloop, outside: OutsideCa
) -> None:
    loops: List[asyncio.AbstractEventLoop] = []

    async def sign(csr_pem: str, common_name: str, args: Dict[str, str]) -> str:
        loops.append(asyncio.get_running_loop())
        await asyncio.sleep(0)  # yields to the loop; no waiting
        return outside.sign(csr_pem, common_name, args)

    cl.register_ca("outside-async", sign, params=PARAMS)
    use_connector(cl, "outside-async")
    first = cl.issue(outside_request("a1.outside.internal"))

    async def from_a_coroutine() -> certloop.IssuedCertificate:
        return await certloop.AsyncCertloop(cl).issue(outside_request("a2.outside.internal"))

    second = asyncio.run(from_a_coroutine())
    for issued, cn in [(first, "a1.outside.internal"), (second, "a2.outside.internal")]:
        assert certloop.inspect_certificate(issued.certificate).subject == {"commonName": cn}
    # One loop, owned by the connector, kept between calls.
    assert len(loops) == 2 and loops[0] is loops[1]


def test_policy_is_enforced_before_and_after_the_callable(
    cl: certloop.Certloop, outside: OutsideCa
) -> None:
    cl.register_ca("outside-ca", outside.sign, params=PARAMS)
    use_connector(cl, "outside-ca")
    with pytest.raises(certloop.PolicyViolation):
        cl.issue(outside_request("long.outside.internal", ttl="5000d"))
    assert outside.calls == []  # refused before the CA was asked

    def smuggles(csr_pem: str, common_name: str, args: Dict[str, str]) -> str:
        return outside.sign(csr_pem, common_name, args, extra_san=True)

    cl.register_ca("smuggler", smuggles, params=PARAMS)
    use_connector(cl, "smuggler", slug="smuggler")
    with pytest.raises(certloop.CaError) as caught:
        cl.issue(outside_request("s.outside.internal", profile="smuggler"))
    assert "smuggled.example.internal" in str(caught.value)
    assert "policy did not approve" in str(caught.value)

    other_key = ec.generate_private_key(ec.SECP256R1())

    def wrong_key(csr_pem: str, common_name: str, args: Dict[str, str]) -> str:
        csr = x509.load_pem_x509_csr(csr_pem.encode())
        now = datetime.datetime.now(datetime.timezone.utc)
        leaf = (x509.CertificateBuilder().subject_name(csr.subject)
                .issuer_name(outside.certificate.subject).public_key(other_key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value,
                               critical=False)
                .sign(outside.key, hashes.SHA256()))
        return leaf.public_bytes(serialization.Encoding.PEM).decode()

    cl.register_ca("wrong-key", wrong_key)
    use_connector(cl, "wrong-key", slug="wrong-key")
    with pytest.raises(certloop.CaError, match="another public key"):
        cl.issue(outside_request("k.outside.internal", profile="wrong-key"))
    assert [r.common_name for r in cl.list() if r.common_name.endswith(".outside.internal")] == []


def test_a_raising_callable_gives_a_ca_error_that_never_shows_the_sensitive_value(
    cl: certloop.Certloop, caplog: pytest.LogCaptureFixture
) -> None:
    def refuses(csr_pem: str, common_name: str, args: Dict[str, str]) -> str:
        raise PermissionError(f"the CA refused key {args['apiKey']!r} for {common_name}")

    cl.register_ca("refusing", refuses, params=PARAMS)
    profile = use_connector(cl, "refusing")
    with caplog.at_level(logging.WARNING, logger="certloop.ca"):
        with pytest.raises(certloop.CaError) as caught:
            cl.issue(outside_request("no.outside.internal"))
    err = caught.value
    assert err.code == "CA_ERROR" and err.retryable is False
    assert err.exception == "PermissionError"
    assert err.traceback is not None and "refuses" in err.traceback
    assert "no.outside.internal" in str(err) and "********" in str(err)

    logged = [r.getMessage() for r in caplog.records if r.name == "certloop.ca"]
    assert len(logged) == 1 and "PermissionError" in logged[0]

    shown = [str(err), repr(err), repr(err.args), err.traceback, *logged, caplog.text,
             repr(cl), repr(cl.get_profile(profile)), repr(cl.get_profile(profile).to_dict()),
             repr([e.to_dict() for e in cl.audit_log()])]
    for text in shown:
        assert API_KEY not in text, text
    assert err.__cause__ is None and err.__context__ is None


def test_retryable_failures_and_contract_breaks(cl: certloop.Certloop) -> None:
    def offline(csr_pem: str, common_name: str, args: Dict[str, str]) -> str:
        raise ConnectionError("ca.outside.test unreachable")

    class Busy(Exception):
        retryable = True

    def busy(csr_pem: str, common_name: str, args: Dict[str, str]) -> str:
        raise Busy("try later")

    def returns_a_number(csr_pem: str, common_name: str, args: Dict[str, str]) -> int:
        return 42

    def returns_none(csr_pem: str, common_name: str, args: Dict[str, str]) -> None:
        return None

    for name, function, retryable, text in [
        ("offline", offline, True, "ConnectionError: ca.outside.test unreachable"),
        ("busy", busy, True, "Busy: try later"),
        ("number", returns_a_number, False, "returned int, not a PEM string"),
        ("none", returns_none, False, "returned None instead of a PEM certificate"),
    ]:
        cl.register_ca(name, function)
        use_connector(cl, name, slug=name)
        with pytest.raises(certloop.CaError) as caught:
            cl.issue(outside_request(f"{name}.outside.internal", profile=name))
        assert caught.value.retryable is retryable, name
        assert text in str(caught.value), str(caught.value)


def test_an_async_callable_that_overruns_its_timeout_is_cancelled(cl: certloop.Certloop) -> None:
    async def hangs(csr_pem: str, common_name: str, args: Dict[str, str]) -> str:
        await asyncio.Event().wait()  # never set
        return ""

    cl.register_ca("hangs", hangs, timeout_seconds=0.05)
    use_connector(cl, "hangs")
    with pytest.raises(certloop.CaError) as caught:
        cl.issue(outside_request("slow.outside.internal"))
    assert caught.value.exception == "TimeoutError" and caught.value.retryable is True


def test_bad_registrations_are_invalid_input(cl: certloop.Certloop) -> None:
    with pytest.raises(certloop.InvalidInput) as caught:
        cl.register_ca("x", "not callable")  # type: ignore[arg-type]
    assert caught.value.field == "function"
    with pytest.raises(certloop.InvalidInput) as caught:
        cl.register_ca("x", print, params=[{"name": "ticket", "dynamic": True}])
    assert caught.value.field == "params[0].dynamic"
    with pytest.raises(certloop.InvalidInput) as caught:
        cl.register_ca("x", print, params=[{"name": "k", "value": "v", "colour": "red"}])
    assert caught.value.field.startswith("params")
    with pytest.raises(certloop.InvalidInput):
        cl.register_ca(" ", print)
    with pytest.raises(certloop.InvalidInput):
        cl.register_ca("x", print, timeout_seconds=0)
    use_connector(cl, "never-registered")
    with pytest.raises(certloop.NotFound, match="register"):
        cl.issue(outside_request("n.outside.internal"))
