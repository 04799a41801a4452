"""Bad input raises a typed certloop exception naming the field; never a panic."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

import certloop
from conftest import request


def expect(kind: type, call: Any, *args: Any) -> Any:
    with pytest.raises(kind) as caught:
        call(*args)
    err = caught.value
    assert isinstance(err, certloop.CertloopError)
    assert "panic" not in str(err).lower()
    return err


def test_the_hierarchy_has_one_base() -> None:
    for kind in [certloop.InvalidInput, certloop.PolicyViolation, certloop.NotFound,
                 certloop.AlreadyExists, certloop.InvalidState, certloop.CaError,
                 certloop.CryptoError, certloop.StoreError, certloop.CertloopIOError,
                 certloop.DeploymentFailed, certloop.PinMismatch, certloop.PendingValidation,
                 certloop.Unsupported]:
        assert issubclass(kind, certloop.CertloopError)
    assert issubclass(certloop.CertloopError, Exception)


def test_policy_violations_name_every_field(cl: certloop.Certloop) -> None:
    err = expect(certloop.PolicyViolation, cl.issue,
                 {"attributes": {"commonName": "x.internal", "ttl": "5000d",
                                 "altNames": [{"type": "EMAIL", "value": "a@b.internal"}],
                                 "extendedKeyUsages": ["code_signing"]}})
    fields = {v.field for v in err.violations}
    assert "attributes.ttl" in fields and len(fields) >= 2, fields
    assert all(isinstance(v, certloop.Violation) and v.message for v in err.violations)
    assert err.code == "POLICY_VIOLATION" and err.retryable is False
    refused = [e for e in cl.audit_log() if e.action == "refused"]
    assert refused and refused[-1].outcome == "failure"


@pytest.mark.parametrize(
    "bad, field",
    [
        ({"attributes": {"commonName": 5}}, "request.attributes"),
        ({"attributes": {"commonName": "a.internal", "keyAlgorithm": "RSA_1024"}}, "request.attributes"),
        ({"attributes": {"commonName": "a.internal", "ttl": "forever"}}, "request.attributes"),
        ({"profileId": "tls-server", "colour": "blue"}, "request"),
        ({"csr": "-----BEGIN CERTIFICATE REQUEST-----\nnot base64\n-----END CERTIFICATE REQUEST-----\n"}, "csr"),
        ({"attributes": {"commonName": "a.internal", "altNames": [{"type": "DNS", "value": object()}]}},
         "request.attributes.altNames[0].value"),
        ("not a dict", "request"),
    ],
)
def test_bad_requests_are_invalid_input_naming_the_field(cl: certloop.Certloop, bad: Any, field: str) -> None:
    err = expect(certloop.InvalidInput, cl.issue, bad)
    assert err.field.startswith(field), (err.field, str(err))
    assert err.code == "INVALID_INPUT"


def test_unknown_names_are_not_found(cl: certloop.Certloop) -> None:
    err = expect(certloop.NotFound, cl.show, "no-such-certificate")
    assert err.what == "certificate" and err.id == "no-such-certificate"
    expect(certloop.NotFound, cl.issue, {"profileId": "nope", **request("a.internal")})
    expect(certloop.NotFound, cl.get_ca, "nope")
    expect(certloop.NotFound, cl.crl, "nope")


def test_state_and_conflict_errors(cl: certloop.Certloop) -> None:
    issued = cl.issue(request("state.example.internal"))
    cl.revoke(issued.certificate_id)
    expect(certloop.InvalidState, cl.revoke, issued.certificate_id)
    expect(certloop.InvalidState, cl.unsuspend, issued.certificate_id)
    expect(certloop.InvalidState, cl.renew, issued.certificate_id)
    err = expect(certloop.AlreadyExists, cl.create_ca, {"name": "certloop-root", "subject": {"commonName": "again"}})
    assert err.what == "CA"
    expect(certloop.InvalidInput, cl.revoke, issued.certificate_id, "because")


def test_bad_keys_pem_and_values() -> None:
    expect(certloop.InvalidInput, certloop.generate_key, "DSA_1024")
    expect(certloop.InvalidInput, certloop.inspect_certificate, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    expect(certloop.InvalidInput, certloop.inspect_certificate, b"\x30\x03\x02\x01")
    err = expect(certloop.InvalidInput, certloop.inspect_csr, 42)
    assert err.field == "csr"
    expect(certloop.InvalidInput, certloop.PrivateKey.from_pem, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    key = certloop.generate_key()
    encrypted = key.to_encrypted_pem(b"right")
    with pytest.raises(certloop.CertloopError):
        certloop.PrivateKey.from_pem(encrypted, passphrase=b"wrong")
    expect(certloop.InvalidInput, key.to_encrypted_pem, b"")
    err = expect(certloop.InvalidInput, certloop.build_csr, key, {"commonName": "a", "ttl": "1d"})
    assert err.field == "request.ttl"


def test_bad_query_values(cl: certloop.Certloop) -> None:
    naive = datetime.datetime(2030, 1, 1)
    err = expect(certloop.InvalidInput, cl.list, {"expiringBefore": naive})
    assert err.field == "query.expiringBefore"
    expect(certloop.InvalidInput, cl.list, {"states": ["sleeping"]})
    expect(certloop.InvalidInput, cl.list, {"limit": -1})
    expect(certloop.InvalidInput, cl.audit_log, {"who": "me"})


def test_an_unwritable_state_directory_is_an_io_error(tmp_path: Any) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    err = expect(certloop.CertloopError, certloop.Certloop.open, blocker / "state")
    assert isinstance(err, (certloop.CertloopIOError, certloop.StoreError)), type(err)
    assert err.retryable is True


def test_wrongly_shaped_argument_is_refused_without_its_value(cl: certloop.Certloop, tmp_path: Any) -> None:
    # A password where a list of passwords was expected: the message names the field and the
    # expected type, never the value.
    with pytest.raises(certloop.InvalidInput) as bad:
        cl.discover_files({"roots": [str(tmp_path)], "passwords": "disc-s3cret"})
    assert bad.value.field == "options.passwords"
    assert "invalid type, expected a sequence" in str(bad.value)
    assert "disc-s3cret" not in str(bad.value) and "disc-s3cret" not in repr(bad.value)
    issued = cl.issue({"attributes": {"commonName": "n.example.internal"}})
    with pytest.raises(certloop.InvalidInput) as number:
        cl.write_keystore(issued, {"format": "pkcs12", "path": str(tmp_path / "n.p12"), "password": 918273})
    assert "918273" not in str(number.value)
    with pytest.raises(certloop.InvalidInput) as variant:
        cl.write_keystore(issued, {"format": "variant-s3cret", "path": str(tmp_path / "v")})
    assert "unknown variant, expected" in str(variant.value)
    assert "variant-s3cret" not in str(variant.value)
