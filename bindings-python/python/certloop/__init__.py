"""certloop: embeddable certificate lifecycle management.

Issue, track, renew and revoke X.509 certificates from Python. Everything here comes from the
Rust extension ``certloop._native``; see ``_native.pyi`` for the typed API::

    import certloop
    cl = certloop.Certloop.open("./state")
    cl.init_default()
    issued = cl.issue({"attributes": {"commonName": "app.example.com", "ttl": "30d",
                                      "altNames": [{"type": "DNS", "value": "app.example.com"}]}})
"""

from certloop._async import AsyncCertloop
from certloop._native import (
    AlreadyExists,
    AuditEvent,
    CaError,
    CaSummary,
    Certloop,
    CertloopError,
    CertloopIOError,
    CertificateInfo,
    CertificateRecord,
    Crl,
    CrlInfo,
    CryptoError,
    Csr,
    CsrInfo,
    DefaultSetup,
    DueRenewal,
    InvalidInput,
    InvalidState,
    IssuedCertificate,
    NotFound,
    PolicyViolation,
    PrivateKey,
    Profile,
    StoreError,
    Template,
    Unsupported,
    Violation,
    __version__,
    build_csr,
    generate_key,
    inspect_certificate,
    inspect_certificates,
    inspect_crl,
    inspect_csr,
)

__all__ = [
    "AlreadyExists",
    "AsyncCertloop",
    "AuditEvent",
    "CaError",
    "CaSummary",
    "Certloop",
    "CertloopError",
    "CertloopIOError",
    "CertificateInfo",
    "CertificateRecord",
    "Crl",
    "CrlInfo",
    "CryptoError",
    "Csr",
    "CsrInfo",
    "DefaultSetup",
    "DueRenewal",
    "InvalidInput",
    "InvalidState",
    "IssuedCertificate",
    "NotFound",
    "PolicyViolation",
    "PrivateKey",
    "Profile",
    "StoreError",
    "Template",
    "Unsupported",
    "Violation",
    "__version__",
    "build_csr",
    "generate_key",
    "inspect_certificate",
    "inspect_certificates",
    "inspect_crl",
    "inspect_csr",
]
