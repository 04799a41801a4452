"""The whole flow from Python, checked with `cryptography` and `openssl`."""

from __future__ import annotations

import datetime
import os
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import certloop
from conftest import request


def verify_signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> None:
    """Raise unless `issuer`'s public key verifies `cert`'s signature (ECDSA or RSA)."""
    key = issuer.public_key()
    assert cert.signature_hash_algorithm is not None
    if isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
    else:
        raise AssertionError(f"unexpected issuer key {type(key).__name__}")


def test_issue_without_csr_gives_a_certificate_and_key_cryptography_accepts(cl: certloop.Certloop) -> None:
    issued = cl.issue(request("app.example.internal"))
    assert isinstance(issued, certloop.IssuedCertificate)
    cert = x509.load_pem_x509_certificate(issued.certificate.encode())
    chain = x509.load_pem_x509_certificates(issued.certificate_chain.encode())
    issuing = x509.load_pem_x509_certificate(issued.issuing_ca_certificate.encode())
    assert chain[0] == issuing and len(chain) == 2
    verify_signed_by(cert, issuing)
    verify_signed_by(issuing, chain[1])
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "app.example.internal"
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["app.example.internal"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku
    assert cert.serial_number == int(issued.serial_number, 16)
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == datetime.timedelta(days=30)

    assert issued.private_key is not None and "BEGIN PRIVATE KEY" in issued.private_key
    key = serialization.load_pem_private_key(issued.private_key.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()  # type: ignore[union-attr]


def test_openssl_verifies_the_chain(cl: certloop.Certloop, tmp_path: Path) -> None:
    issued = cl.issue(request("verify.example.internal"))
    chain = x509.load_pem_x509_certificates(issued.certificate_chain.encode())
    (tmp_path / "root.pem").write_bytes(chain[-1].public_bytes(serialization.Encoding.PEM))
    (tmp_path / "inter.pem").write_text(issued.issuing_ca_certificate)
    (tmp_path / "leaf.pem").write_text(issued.certificate)
    out = subprocess.run(
        ["openssl", "verify", "-CAfile", "root.pem", "-untrusted", "inter.pem", "leaf.pem"],
        cwd=tmp_path, capture_output=True, text=True, timeout=30,
    )
    assert out.returncode == 0, out.stderr
    assert "leaf.pem: OK" in out.stdout


def test_issue_with_a_csr_returns_no_key_and_keeps_the_csr_key(cl: certloop.Certloop) -> None:
    key = certloop.generate_key("EC_secp384r1")
    csr = certloop.build_csr(key, {"commonName": "csr.example.internal",
                                   "altNames": [{"type": "DNS", "value": "csr.example.internal"}]})
    info = certloop.inspect_csr(csr.pem)
    assert info.subject_dn == "CN=csr.example.internal"
    assert info.key_algorithm == "EC_secp384r1"
    assert info.public_key_pem == key.public_key_pem
    x509.load_pem_x509_csr(csr.pem.encode())  # cryptography parses it too
    assert x509.load_der_x509_csr(csr.der).is_signature_valid

    issued = cl.issue({"csr": csr.pem, "attributes": {"ttl": "7d"}})
    assert issued.private_key is None
    cert = x509.load_pem_x509_certificate(issued.certificate.encode())
    ours = serialization.load_pem_public_key(key.public_key_pem.encode())
    assert cert.public_key() == ours
    assert "privateKey" not in issued.to_dict()


def test_a_csr_made_by_cryptography_is_issued(cl: certloop.Certloop) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rsa.example.internal")]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("rsa.example.internal")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = csr.public_bytes(serialization.Encoding.PEM).decode()
    issued = cl.issue({"csr": pem})
    cert = x509.load_pem_x509_certificate(issued.certificate.encode())
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]


def test_keys_generate_load_and_encrypt() -> None:
    for algorithm, kind in [("ED25519", ed25519.Ed25519PrivateKey), ("RSA_2048", rsa.RSAPrivateKey),
                            ("EC_prime256v1", ec.EllipticCurvePrivateKey)]:
        key = certloop.PrivateKey.generate(algorithm)
        assert key.algorithm == algorithm
        assert "[redacted]" in repr(key) and "BEGIN" not in repr(key)
        loaded = serialization.load_pem_private_key(key.to_pem().encode(), password=None)
        assert isinstance(loaded, kind)
        encrypted = key.to_encrypted_pem("correct horse")
        assert "ENCRYPTED PRIVATE KEY" in encrypted
        assert isinstance(serialization.load_pem_private_key(encrypted.encode(), password=b"correct horse"), kind)
        again = certloop.PrivateKey.from_pem(encrypted, passphrase=b"correct horse")
        assert again.public_key_pem == key.public_key_pem
    theirs = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
    assert certloop.PrivateKey.from_pem(theirs.decode()).algorithm == "EC_prime256v1"


def test_renew_revoke_suspend_and_crl(cl: certloop.Certloop) -> None:
    first = cl.issue(request("life.example.internal"))
    renewed = cl.renew(first.certificate_id)
    assert renewed.serial_number != first.serial_number
    assert renewed.private_key is not None
    old = cl.show(first.certificate_id)
    assert old.renewed_by == renewed.certificate_id
    assert cl.show(renewed.certificate_id).renewed_from == first.certificate_id

    held = cl.suspend(renewed.certificate_id)
    assert held.state == "suspended" and held.revocation_reason == "certificateHold"
    assert cl.unsuspend(renewed.certificate_id).state == "issued"
    revoked = cl.revoke(first.certificate_id, reason="keyCompromise")
    assert revoked.state == "revoked" and revoked.revocation_reason == "keyCompromise"
    assert isinstance(revoked.revoked_at, datetime.datetime)
    cl.suspend(renewed.certificate_id)

    crl = cl.crl()
    parsed = x509.load_pem_x509_crl(crl.pem.encode())
    issuing = x509.load_pem_x509_certificate(first.issuing_ca_certificate.encode())
    assert parsed.is_signature_valid(issuing.public_key())  # type: ignore[arg-type]
    listed = {r.serial_number: r for r in parsed}
    assert set(listed) == {int(first.serial_number, 16), int(renewed.serial_number, 16)}
    assert listed[int(first.serial_number, 16)].extensions.get_extension_for_class(x509.CRLReason).value.reason \
        == x509.ReasonFlags.key_compromise
    info = certloop.inspect_crl(crl.der)
    assert info.crl_number is not None and int(info.crl_number, 16) == crl.number
    assert {int(r["serialNumber"], 16) for r in info.revoked} == set(listed)
    assert cl.crl().number == crl.number + 1


def test_inventory_search_show_and_audit(cl: certloop.Certloop) -> None:
    a = cl.issue(request("alpha.example.internal"))
    b = cl.issue(request("beta.example.internal", ttl="10d"))
    assert {r.certificate_id for r in cl.list()} == {a.certificate_id, b.certificate_id}
    found = cl.list({"commonName": "ALPHA"})
    assert [r.certificate_id for r in found] == [a.certificate_id]
    assert [r.common_name for r in cl.list({"san": "beta.example.internal"})] == ["beta.example.internal"]
    soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=15)
    assert [r.certificate_id for r in cl.list({"expiringBefore": soon})] == [b.certificate_id]
    assert [r.certificate_id for r in cl.expiring_within(15)] == [b.certificate_id]
    assert len(cl.list({"limit": 1})) == 1
    cl.revoke(a.certificate_id)
    assert [r.certificate_id for r in cl.list({"states": ["revoked"]})] == [a.certificate_id]
    by_serial = cl.show(b.serial_number)
    assert by_serial.certificate_id == b.certificate_id
    record = cl.show(a.certificate_id)
    assert record.not_after.tzinfo is not None
    assert record.to_dict()["certificateId"] == a.certificate_id
    assert record.alt_names == [{"type": "DNS", "value": "alpha.example.internal"}]

    events = cl.audit_log({"certificateId": a.certificate_id})
    assert [e.action for e in events] == ["issued", "revoked"]
    assert all(e.outcome == "success" and e.actor == "api" for e in events)
    everything = str([e.to_dict() for e in cl.audit_log()])
    assert "PRIVATE KEY" not in everything and "caCreated" in everything
    assert len(cl.audit_log({"limit": 2})) == 2


def test_cas_templates_profiles_and_defaults(cl: certloop.Certloop) -> None:
    setup = cl.init_default()
    assert setup.created is False
    assert setup.issuing_ca.parent_id == setup.root_ca.id
    assert {ca.name for ca in cl.list_cas()} == {"certloop-root", "certloop-issuing"}

    team = cl.create_ca({"name": "team-ca", "subject": {"commonName": "Team CA"},
                         "keyAlgorithm": "EC_secp384r1", "parent": "certloop-root", "pathLength": 0})
    assert cl.get_ca("team-ca").id == team.id and team.key_algorithm == "EC_secp384r1"
    template = cl.save_template({
        "slug": "short-lived",
        "sans": [{"type": "DNS", "allowed": ["*.team.internal"]}],
        "extendedKeyUsages": {"required": ["server_auth"]},
        "validity": {"max": "2d"},
    })
    assert cl.get_template("short-lived").id == template.id
    assert template.validity == {"max": "2d"}
    profile = cl.save_profile({"slug": "team", "templateId": "short-lived",
                               "issuer": {"type": "internalCa", "caId": "team-ca"}})
    assert profile.issuer == {"type": "internalCa", "caId": team.id}
    assert {p.slug for p in cl.list_profiles()} == {"tls-server", "team"}
    assert {t.slug for t in cl.list_templates()} == {"tls-server", "short-lived"}

    issued = cl.issue({"profileId": "team", "attributes": {
        "commonName": "api.team.internal", "altNames": [{"type": "DNS", "value": "api.team.internal"}]}})
    info = certloop.inspect_certificate(issued.certificate)
    assert info.issuer_dn == "CN=Team CA"
    assert info.not_after - info.not_before == datetime.timedelta(days=2)
    assert [c.subject_dn for c in certloop.inspect_certificates(issued.certificate_chain)] == [
        "CN=Team CA", setup.root_ca.subject]
    # The profile dict from to_dict() is accepted back as a request: one wire shape.
    assert cl.save_profile(profile.to_dict()).id == profile.id


def test_issue_many_reports_each_request(cl: certloop.Certloop) -> None:
    requests = [request(f"n{i}.batch.internal") for i in range(5)]
    requests[2]["attributes"]["ttl"] = "5000d"
    results = cl.issue_many(requests)
    assert [type(r).__name__ for r in results] == [
        "IssuedCertificate", "IssuedCertificate", "PolicyViolation", "IssuedCertificate", "IssuedCertificate"]
    refused = results[2]
    assert isinstance(refused, certloop.PolicyViolation)
    assert any(v.field == "attributes.ttl" for v in refused.violations)
    assert len(cl.list()) == 4


def test_a_state_directory_persists_and_keeps_the_master_key_private(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = certloop.Certloop.open(state)
    first.init_default()
    issued = first.issue(request("persist.example.internal"))
    del first
    assert stat.S_IMODE(os.stat(state / "master.key").st_mode) == 0o600
    again = certloop.Certloop.open(str(state))
    assert again.show(issued.certificate_id).serial_number == issued.serial_number
    assert again.init_default().created is False
    assert again.with_actor("deploy-bot").revoke(issued.certificate_id).state == "revoked"
    assert again.audit_log({"certificateId": issued.certificate_id})[-1].actor == "deploy-bot"


def test_results_are_frozen_and_redacted(cl: certloop.Certloop) -> None:
    issued = cl.issue(request("frozen.example.internal"))
    with pytest.raises(AttributeError):
        issued.certificate = "x"  # type: ignore[misc]
    assert "PRIVATE" not in repr(issued) and issued.certificate_id in repr(issued)
    wire = issued.to_dict()
    assert set(wire) == {"certificate", "certificateChain", "issuingCaCertificate", "privateKey",
                         "serialNumber", "certificateId", "certificateRequestId"}
    assert wire["privateKey"] == issued.private_key
