"""A script CA connector that signs with the `cryptography` package: an "external CA" in pure
Python, for certloop's `certificate_request(csr, common_name, args_dict)` contract.

The CA key and certificate are made when the module is first loaded and kept in module
globals (they live as long as certloop keeps the module loaded), or read from `ca_dir` when
that parameter is set, so that several processes share one CA.

Parameters: ca_dir (fixed, optional), days (fixed, optional, default 30).
"""

import datetime
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_ca = {}


def _load_or_create(ca_dir):
    if ca_dir in _ca:
        return _ca[ca_dir]
    key_path = os.path.join(ca_dir, "ca.key") if ca_dir else None
    if key_path and os.path.exists(key_path):
        with open(key_path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
        with open(os.path.join(ca_dir, "ca.pem"), "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
    else:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example External CA"),
                x509.NameAttribute(NameOID.COMMON_NAME, "Example External Root"),
            ]
        )
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True,
                    crl_sign=True, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        if ca_dir:
            os.makedirs(ca_dir, mode=0o700, exist_ok=True)
            with open(key_path, "wb", opener=lambda p, fl: os.open(p, fl, 0o600)) as f:
                f.write(
                    key.private_bytes(
                        serialization.Encoding.PEM,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption(),
                    )
                )
            with open(os.path.join(ca_dir, "ca.pem"), "wb") as f:
                f.write(cert.public_bytes(serialization.Encoding.PEM))
    _ca[ca_dir] = (key, cert)
    return key, cert


def certificate_request(csr, common_name, args_dict):
    request = x509.load_pem_x509_csr(csr.encode())
    if not request.is_signature_valid:
        raise ValueError("the CSR's signature does not verify")
    key, ca = _load_or_create(args_dict.get("ca_dir", ""))
    now = datetime.datetime.now(datetime.timezone.utc)
    days = int(args_dict.get("days", "30"))
    builder = (
        x509.CertificateBuilder()
        .subject_name(request.subject)
        .issuer_name(ca.subject)
        .public_key(request.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
        )
    )
    try:
        sans = request.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        builder = builder.add_extension(sans.value, critical=False)
    except x509.ExtensionNotFound:
        pass
    leaf = builder.sign(key, hashes.SHA256())
    pem = serialization.Encoding.PEM
    return (leaf.public_bytes(pem) + ca.public_bytes(pem)).decode()
