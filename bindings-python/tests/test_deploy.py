"""Keystores, deployment with rollback and the pinning check, through the binding."""

from __future__ import annotations

import socket
import ssl
import stat
import threading
from pathlib import Path
from typing import Iterator, Tuple

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key, pkcs12

import certloop
from conftest import request


def test_write_keystore_writes_pem_and_pkcs12_that_cryptography_reads(
    cl: certloop.Certloop, tmp_path: Path
) -> None:
    issued = cl.issue(request("ks.example.internal"))
    written = cl.write_keystore(issued, {"format": "pem", "fullchainPath": str(tmp_path / "full.pem"),
                                         "keyPath": str(tmp_path / "key.pem")})
    assert sorted(Path(p).name for p in written) == ["full.pem", "key.pem"]
    assert stat.S_IMODE((tmp_path / "key.pem").stat().st_mode) == 0o600
    chain = x509.load_pem_x509_certificates((tmp_path / "full.pem").read_bytes())
    assert chain[0] == x509.load_pem_x509_certificate(issued.certificate.encode())
    load_pem_private_key((tmp_path / "key.pem").read_bytes(), password=None)

    cl.write_keystore(issued, {"format": "pkcs12", "path": str(tmp_path / "ks.p12"),
                               "password": "changeit", "alias": "web"})
    key, cert, extra = pkcs12.load_key_and_certificates((tmp_path / "ks.p12").read_bytes(), b"changeit")
    assert key is not None and cert is not None and cert.serial_number == int(issued.serial_number, 16)
    with pytest.raises(certloop.InvalidInput) as caught:
        cl.write_keystore(issued, {"format": "zip", "path": str(tmp_path / "x")})
    assert caught.value.field.startswith("spec")


def test_deploy_then_a_failed_deploy_rolls_back(cl: certloop.Certloop, tmp_path: Path) -> None:
    cert_path, key_path = tmp_path / "site.crt", tmp_path / "site.key"
    target = cl.save_target({"name": "web", "type": "nginx", "certPath": str(cert_path),
                             "keyPath": str(key_path), "testCommand": ["true"]})
    assert target["name"] == "web" and cl.get_target("web")["id"] == target["id"]

    first = cl.issue({**request("web.example.internal"), "manageKey": True})
    report = cl.deploy(first.certificate_id, "web")
    assert report["success"] is True and report["rolledBack"] is False
    assert cl.show(first.certificate_id).state == "deployed"
    deployed = cert_path.read_text()
    assert x509.load_pem_x509_certificates(deployed.encode())[0] == \
        x509.load_pem_x509_certificate(first.certificate.encode())

    cl.save_target({"name": "web", "type": "nginx", "certPath": str(cert_path),
                    "keyPath": str(key_path), "testCommand": ["false"]})
    second = cl.issue({**request("web.example.internal"), "manageKey": True})
    with pytest.raises(certloop.DeploymentFailed) as caught:
        cl.deploy(second.certificate_id, "web")
    assert caught.value.rolled_back is True and caught.value.target == "web"
    assert caught.value.code == "DEPLOYMENT_FAILED"
    assert cert_path.read_text() == deployed  # the first certificate is back
    report = cl.deploy_with_report(second.certificate_id, "web")
    assert report["success"] is False and report["rolledBack"] is True

    not_kept = cl.issue(request("nokey.example.internal"))
    with pytest.raises(certloop.InvalidState):
        cl.deploy(not_kept.certificate_id, "web")
    cl.remove_target("web")
    assert cl.list_targets() == []
    with pytest.raises(certloop.NotFound):
        cl.get_target("web")


@pytest.fixture
def tls_server(tmp_path: Path, cl: certloop.Certloop) -> Iterator[Tuple[str, str]]:
    """A one-connection TLS server on loopback serving a fresh certificate; yields its
    endpoint and that certificate's id."""
    issued = cl.issue(request("pin.example.internal"))
    assert issued.private_key is not None
    (tmp_path / "c.pem").write_text(issued.certificate + issued.certificate_chain)
    (tmp_path / "k.pem").write_text(issued.private_key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"127.0.0.1:{port}", issued.certificate_id
    listener.close()


def test_pin_check_compares_what_the_endpoint_serves(
    cl: certloop.Certloop, tls_server: Tuple[str, str]
) -> None:
    endpoint, served_id = tls_server
    check = cl.pin_check(served_id, endpoint, "pin.example.internal")
    assert check["matches"] is True
    assert check["servedSha256"] == cl.show(served_id).fingerprint_sha256

    other = cl.issue(request("other.example.internal"))
    check = cl.pin_check(other.certificate_id, endpoint, "pin.example.internal")
    assert check["matches"] is False
    assert check["expectedSha256"] == cl.show(other.certificate_id).fingerprint_sha256
    assert check["servedSha256"] != check["expectedSha256"]
    assert any(e.action == "pinChecked" and e.outcome == "failure" for e in cl.audit_log())


def test_orders_without_acme_profiles(cl: certloop.Certloop) -> None:
    assert cl.list_orders() == [] and cl.acme_accounts() == []
    with pytest.raises(certloop.NotFound):
        cl.get_order("no-such-order")
    with pytest.raises(certloop.NotFound):
        cl.resume_order("no-such-order")
    with pytest.raises(certloop.InvalidInput):
        cl.acme_register("tls-server")  # not an ACME profile
    issued = cl.issue(request("w.example.internal"))
    assert cl.acme_renewal_window(issued.certificate_id) is None


def test_the_async_face_deploys_too(cl: certloop.Certloop, tmp_path: Path) -> None:
    import asyncio

    async def flow() -> dict:
        acl = certloop.AsyncCertloop(cl)
        await acl.save_target({"name": "async", "type": "nginx", "certPath": str(tmp_path / "a.crt"),
                               "keyPath": str(tmp_path / "a.key")})
        issued = await acl.issue({**request("async.example.internal"), "manageKey": True})
        return await acl.deploy(issued.certificate_id, "async")

    assert asyncio.run(flow())["success"] is True
    assert (tmp_path / "a.key").exists()
