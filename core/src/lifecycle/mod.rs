//! The engine: the paths a certificate takes through its life (issue, renew, revoke, suspend)
//! and the renewal checks that start the loop again. The façade ([`crate::Certloop`]) drives it.

pub mod agent;
pub mod issuance;
pub mod managed;
pub mod notify;
pub mod schedule;
