//! Certificate signing requests: the [`CsrBuilder`] trait and its rcgen default, the CSR
//! modes of the provisioning flow, inspection, and the proof-of-possession check.

mod builder;
mod inspect;
mod mode;
mod pop;

pub use builder::{Csr, CsrBuilder, CsrSpec, DefaultCsrBuilder};
pub use inspect::{CsrInfo, inspect_csr};
pub use mode::{CsrMode, CsrOverrides, KeyChoice, PreparedCsr, prepare_csr};
pub use pop::verify_proof_of_possession;
