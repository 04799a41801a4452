"""Issue N P-256 leaves with fresh keys: certloop from Python vs `cryptography` alone.

Both sides do the same cryptographic work per certificate: generate a P-256 key, build a
leaf (subject CN, DNS SAN, keyUsage, extendedKeyUsage serverAuth, basicConstraints, SKI, AKI,
random serial) and sign it with a P-256 issuing CA (ECDSA-SHA256), then return PEMs of the
certificate and the PKCS#8 key. certloop additionally checks the request against its template,
lints the certificate, and records it and an audit event in its (in-memory SQLite) inventory.

    python benches/python/issue_p256.py [N] [ROUNDS]

Run it against a release build of the extension (see benches/README.md).
"""

from __future__ import annotations

import datetime
import os
import statistics
import sys
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import certloop


def request(i: int) -> dict:
    cn = f"host{i}.bench.internal"
    return {"attributes": {"commonName": cn, "ttl": "30d", "altNames": [{"type": "DNS", "value": cn}]}}


def certloop_issue(n: int) -> float:
    cl = certloop.Certloop.in_memory()
    cl.init_default()
    start = time.perf_counter()
    for i in range(n):
        issued = cl.issue(request(i))
        assert issued.private_key is not None
    return time.perf_counter() - start


def certloop_issue_many(n: int) -> float:
    cl = certloop.Certloop.in_memory()
    cl.init_default()
    start = time.perf_counter()
    results = cl.issue_many([request(i) for i in range(n)])
    elapsed = time.perf_counter() - start
    assert all(isinstance(r, certloop.IssuedCertificate) for r in results)
    return elapsed


def cryptography_issue(n: int) -> float:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench issuing CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski)
    start = time.perf_counter()
    for i in range(n):
        cn = f"host{i}.bench.internal"
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                              data_encipherment=False, key_agreement=False, key_cert_sign=False,
                              crl_sign=False, encipher_only=False, decipher_only=False),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(aki, critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        cert.public_bytes(serialization.Encoding.PEM)
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption())
    return time.perf_counter() - start


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    runs = {"certloop issue()": certloop_issue, "certloop issue_many()": certloop_issue_many,
            "cryptography": cryptography_issue}
    for run in runs.values():  # warm-up
        run(min(n, 100))
    medians = {}
    for name, run in runs.items():
        times = [run(n) for _ in range(rounds)]
        medians[name] = statistics.median(times)
    import cryptography
    print(f"N={n}, median of {rounds} rounds, python {sys.version.split()[0]}, "
          f"cryptography {cryptography.__version__}, certloop {certloop.__version__}, "
          f"CPUs {os.cpu_count()}")
    peer = medians["cryptography"]
    for name, seconds in medians.items():
        print(f"{name:24} {seconds:8.3f} s  {n / seconds:9.0f} certs/s  "
              f"{peer / seconds:5.2f}x of cryptography")


if __name__ == "__main__":
    main()
