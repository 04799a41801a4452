//! Plain data shared by every module: names, algorithms, usages, lifetimes, records, requests.
//! No I/O and no crypto here.

mod algorithm;
mod name;
mod record;
mod request;
mod token;
mod ttl;
mod usage;

pub use algorithm::{KeyAlgorithm, KeyFamily, SignatureAlgorithm};
pub use name::{SanType, Subject, SubjectAltName};
pub use record::{
    AuditAction, AuditEvent, AuditOutcome, CertificateRecord, CertificateState, RevocationReason,
};
pub use request::{CertificateAttributes, ConnectorParams, IssueRequest, IssuedCertificate};
pub use token::{ANY_PROFILE, ApiToken, CreatedToken, TokenAction, TokenSpec};
pub use ttl::Ttl;
pub use usage::{ExtendedKeyUsage, KeyUsage};
