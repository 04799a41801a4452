"""Issue N P-256 leaves with Python `cryptography` (fresh key each, signed by a P-256
intermediate), the same profile certloop issues, and print the loop's CPU time as JSON.

Usage: pyca_issue_leaves.py COUNT OUT_DIR
"""

import datetime
import json
import os
import sys
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def ca(subject, key, issuer, issuer_key, path_length, days, now):
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(subject))
        .issuer_name(name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer_key is not key:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def main():
    count, out = int(sys.argv[1]), sys.argv[2]
    now = datetime.datetime.now(datetime.timezone.utc)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = ca("pyca bench Root CA", root_key, "pyca bench Root CA", root_key, None, 3650, now)
    int_key = ec.generate_private_key(ec.SECP256R1())
    inter = ca("pyca bench Issuing CA", int_key, "pyca bench Root CA", root_key, 0, 1825, now)
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(int_key.public_key())
    eku = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])
    ku = x509.KeyUsage(True, False, False, False, False, False, False, False, False)

    start_cpu, start_wall = time.process_time(), time.perf_counter()
    for i in range(count):
        cn = f"host-{i}.bench.internal"
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(inter.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=90))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(ku, critical=True)
            .add_extension(eku, critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(aki, critical=False)
            .sign(int_key, hashes.SHA256())
        )
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    cpu, wall = time.process_time() - start_cpu, time.perf_counter() - start_wall

    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "cert.pem"), "wb") as f:
        f.write(cert_pem)
    with open(os.path.join(out, "chain.pem"), "wb") as f:
        f.write(inter.public_bytes(serialization.Encoding.PEM))
        f.write(root.public_bytes(serialization.Encoding.PEM))
    fd = os.open(os.path.join(out, "key.pem"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key_pem)
    import cryptography

    print(json.dumps({
        "peer": f"python cryptography {cryptography.__version__}",
        "leaves": count, "cpu_seconds": cpu, "wall_seconds": wall,
    }))


if __name__ == "__main__":
    main()
