//! certloop: an embeddable certificate lifecycle library.
//!
//! Issue, track, renew, deploy, verify and revoke X.509 certificates from Rust, Python, Node, C
//! or the `certloop` CLI. The one handle a user holds is [`Certloop`]; the modules below are the
//! domain pieces it is built from (see ARCHITECTURE.md for the map).
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod acme_server;
pub mod ca;
pub mod clock;
pub mod crypto;
pub mod csr;
pub mod deploy;
pub mod discovery;

pub mod dcv;
pub mod error;
pub mod keystore;
pub mod lifecycle;
pub mod model;
pub mod policy;
pub mod store;
pub mod wire;

pub use error::{Error, ErrorKind, Result, Violation};
mod facade;

pub use facade::{AcmeAccountSummary, OrderStatus, PendingOrder, RenewalWindow, ValidationJob};
pub use facade::{
    Action, ActionResult, BatchItem, BatchOptions, BatchReport, ManageRequest, SweepOptions,
    SweepReport,
};
pub use facade::{CaSummary, Certloop, DefaultSetup, DueRenewal, defaults};
pub use facade::{CreatedEab, external_account_required};
pub use facade::{
    DiscoveredItem, DiscoveredLocation, DiscoveryOutcome, Drift, DriftKind, RediscoveryReport,
};
