"""End to end through the binding: an order from Pebble with manual HTTP-01 validation (pending,
listed, the file published, resumed), then a deployment to a real nginx on loopback with its
config test, reload and pinning check.

Needs the servers of scripts/stages/50-acme.sh (its CERTLOOP_ACME_* variables); skipped
without them, so the pytest run of stage 10 passes over it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest
from cryptography import x509

import certloop

REQUIRED = ["CERTLOOP_ACME_DIRECTORY", "CERTLOOP_ACME_TLS_ROOT", "CERTLOOP_ACME_ROOT",
            "CERTLOOP_ACME_WEBROOT"]
MISSING = [name for name in REQUIRED if not os.environ.get(name)]

pytestmark = pytest.mark.skipif(
    bool(MISSING), reason=f"needs Pebble (scripts/stages/50-acme.sh): {', '.join(MISSING)} unset")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: "subprocess.Popen[bytes]", seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nginx did not listen on 127.0.0.1:{port} within {seconds} s")


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Tuple[Path, int, List[str]]]:
    """nginx with its own prefix serving tls/fullchain.pem on a free 127.0.0.1 port; yields its
    prefix, port and the arguments that address this instance."""
    prefix = tmp_path / "nginx"
    for sub in ("tls", "logs", "tmp"):
        (prefix / sub).mkdir(parents=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=placeholder",
                    "-keyout", str(prefix / "tls/key.pem"), "-out",
                    str(prefix / "tls/fullchain.pem")], check=True, capture_output=True)
    port = free_port()
    conf = prefix / "nginx.conf"
    temp = "\n".join(f"  {kind}_temp_path {prefix}/tmp/{kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf.write_text(f"""worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
{temp}
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {prefix}/tls/fullchain.pem;
    ssl_certificate_key {prefix}/tls/key.pem;
    location / {{ return 200 "ok\\n"; }}
  }}
}}
""")
    args = ["-p", str(prefix), "-c", str(conf), "-e", str(prefix / "logs/error.log")]
    server = subprocess.Popen(["nginx", *args, "-g", "daemon off;"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, server)
        yield prefix, port, args
    finally:
        server.terminate()
        server.wait(timeout=15)


def test_order_from_pebble_resume_deploy_to_nginx_and_pin_check(
    nginx: Tuple[Path, int, List[str]], tmp_path: Path
) -> None:
    env = os.environ
    cl = certloop.Certloop.in_memory().with_actor("python-e2e")
    cl.init_default()
    cl.save_profile({"slug": "pebble", "templateId": "tls-server",
                     "issuer": {"type": "acme", "directoryUrl": env["CERTLOOP_ACME_DIRECTORY"],
                                "caRoots": env["CERTLOOP_ACME_TLS_ROOT"],
                                "email": "python@example.com", "solver": {"type": "manual"}}})
    name = f"python-{os.getpid()}.certloop.test"

    # 1. The order waits for a person.
    with pytest.raises(certloop.PendingValidation) as pending:
        cl.issue({"profileId": "pebble", "manageKey": True,
                  "attributes": {"commonName": name, "altNames": [{"type": "DNS", "value": name}]}})
    order_id = pending.value.order_id
    assert pending.value.code == "PENDING_VALIDATION"
    assert any(o["id"] == order_id and o["status"] == "pendingValidation"
               for o in cl.list_orders())
    assert len(cl.acme_accounts()) == 1
    order = cl.get_order(order_id)
    assert order["names"] == [name]

    # 2. The person publishes the file; 3. resume.
    for step in order["instructions"]["steps"]:
        assert step["type"] == "httpFile"
        path = Path(env["CERTLOOP_ACME_WEBROOT"]) / step["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(step["content"])
    issued = cl.resume_order(order_id)
    assert cl.get_order(order_id)["status"] == "completed"
    leaf, chain = tmp_path / "leaf.pem", tmp_path / "chain.pem"
    leaf.write_text(issued.certificate)
    chain.write_text(issued.certificate_chain)
    verified = subprocess.run(["openssl", "verify", "-CAfile", env["CERTLOOP_ACME_ROOT"],
                               "-untrusted", str(chain), str(leaf)],
                              capture_output=True, text=True)
    assert verified.returncode == 0 and f"{leaf}: OK" in verified.stdout, verified.stderr
    names = x509.load_pem_x509_certificate(issued.certificate.encode()).extensions \
        .get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert names == [name]

    # 4. Deploy to nginx: config test, reload, pinning check against what it serves.
    prefix, port, args = nginx
    endpoint = f"127.0.0.1:{port}"
    cl.save_target({"name": "nginx", "type": "nginx",
                    "certPath": str(prefix / "tls/fullchain.pem"),
                    "keyPath": str(prefix / "tls/key.pem"),
                    "testCommand": ["nginx", *args, "-t", "-q"],
                    "reloadCommand": ["nginx", *args, "-s", "reload"],
                    "endpoint": endpoint, "serverName": name,
                    "pinAttempts": 40, "pinIntervalMs": 250})
    report = cl.deploy(issued.certificate_id, "nginx")
    assert report["success"] is True, report
    assert [s["step"] for s in report["steps"]] == \
        ["precheck", "write", "configTest", "reload", "pinCheck"]
    assert report["pin"]["matches"] is True
    assert cl.show(issued.certificate_id).state == "deployed"
    check = cl.pin_check(issued.certificate_id, endpoint, name)
    assert check["matches"] is True
    assert check["servedSha256"] == cl.show(issued.certificate_id).fingerprint_sha256
    deployed = x509.load_pem_x509_certificates((prefix / "tls/fullchain.pem").read_bytes())
    assert deployed[0] == x509.load_pem_x509_certificate(issued.certificate.encode())
