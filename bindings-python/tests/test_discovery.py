"""Discovery through the binding: PEM and PKCS#12 files in a temp dir (certloop's and an
outside CA's made with `cryptography`), rediscovery reporting changed and gone files, and
passwords that never come back."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import certloop


def outside_certificate(cn: str) -> bytes:
    """A self-signed certificate made by `cryptography`, not by certloop (PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def test_discover_files_then_rediscover_changed_and_gone(cl: certloop.Certloop, tmp_path: Path) -> None:
    issued = cl.issue({"attributes": {"commonName": "known.example.internal"}})
    scanned = tmp_path / "scan"
    (scanned / "nested").mkdir(parents=True)
    (scanned / "known.pem").write_text(issued.certificate)
    (scanned / "nested" / "outside.pem").write_bytes(outside_certificate("outside.example.internal"))
    cl.write_keystore(issued, {"format": "pkcs12", "path": str(scanned / "ks.p12")})
    (scanned / "notes.txt").write_text("not a certificate\n")

    first = cl.discover_files({"roots": [str(scanned)]})
    assert first["examined"] >= 4
    assert first["newCertificates"] == 1
    by_file = {str(Path(i["location"]["path"]).relative_to(scanned)): i for i in first["items"]}
    assert sorted(by_file) == ["known.pem", "ks.p12", "nested/outside.pem"]
    assert by_file["known.pem"]["certificateId"] == issued.certificate_id
    assert by_file["known.pem"]["newCertificate"] is False
    assert by_file["ks.p12"]["location"]["format"] == "pkcs12"
    assert by_file["ks.p12"]["certificateId"] == issued.certificate_id
    outside = by_file["nested/outside.pem"]
    assert (outside["state"], outside["commonName"], outside["newCertificate"]) == (
        "discovered", "outside.example.internal", True)
    assert cl.show(outside["certificateId"]).state == "discovered"

    second = cl.discover_files({"roots": [str(scanned)]})
    assert (second["newCertificates"], second["newLocations"], len(second["items"])) == (0, 0, 3)
    assert len(cl.discovered_locations()) == 3

    unchanged = cl.rediscover()
    assert (unchanged["checked"], unchanged["unchanged"], len(unchanged["drifts"])) == (3, 3, 0)

    (scanned / "nested" / "outside.pem").write_bytes(outside_certificate("replaced.example.internal"))
    (scanned / "known.pem").unlink()
    drifted = cl.rediscover()
    assert (drifted["checked"], drifted["unchanged"]) == (3, 1)
    drifts = {str(Path(d["location"]["path"]).relative_to(scanned)): d for d in drifted["drifts"]}
    assert drifts["nested/outside.pem"]["kind"] == "changed"
    assert drifts["nested/outside.pem"]["expectedSha256"] == outside["fingerprintSha256"]
    assert drifts["nested/outside.pem"]["foundSha256"] != outside["fingerprintSha256"]
    assert drifts["known.pem"]["kind"] == "gone"
    assert any(e.action == "driftDetected" for e in cl.audit_log())

    with pytest.raises(certloop.InvalidInput) as bad:
        cl.discover_files({"roots": [str(scanned)], "depth": 2})
    assert bad.value.field.startswith("options")


def test_discover_pkcs12_with_passwords_none_returned(cl: certloop.Certloop, tmp_path: Path) -> None:
    issued = cl.issue({"attributes": {"commonName": "locked.example.internal"}})
    cl.write_keystore(issued, {"format": "pkcs12", "path": str(tmp_path / "locked.p12"),
                               "password": "disc-s3cret"})
    without = cl.discover_files({"roots": [str(tmp_path)]})
    assert without["items"] == [] and len(without["problems"]) >= 1
    found = cl.discover_files({"roots": [str(tmp_path)], "passwords": ["wrong", "disc-s3cret"]})
    assert [i["certificateId"] for i in found["items"]] == [issued.certificate_id]
    assert "disc-s3cret" not in json.dumps([without, found, cl.discovered_locations()])


def test_discover_host_on_an_empty_proc_tree(cl: certloop.Certloop, tmp_path: Path) -> None:
    outcome = cl.discover_host({"procRoot": str(tmp_path)})
    assert (outcome["items"], outcome["newCertificates"]) == ([], 0)
    with pytest.raises(certloop.InvalidInput):
        cl.discover_host({"procroot": str(tmp_path)})


def test_discover_network_records_nothing_from_a_closed_port(cl: certloop.Certloop) -> None:
    outcome = cl.discover_network({"targets": ["127.0.0.1:1"], "timeoutMs": 500})
    assert outcome["items"] == []
    with pytest.raises(certloop.InvalidInput):
        cl.discover_network({"targets": "127.0.0.1:1"})
