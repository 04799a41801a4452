//! The façade's own options on the wire: opening a handle ([`OpenOptions`]) and the agent's
//! sweep ([`Sweep`], read as [`SweepOptions`], which has durations and no serde form). The
//! C ABI, Node and Python read the same camelCase shapes, every field optional.

use serde::Deserialize;

use crate::{Certloop, Result, SweepOptions};

/// Options for opening a handle (`{"actor", "scriptRoot"}`), applied to a [`Certloop`] just
/// opened with [`OpenOptions::apply`].
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OpenOptions {
    /// Who the audit log records as the actor (default `api`).
    pub actor: Option<String>,
    /// Accept script CA profiles only for scripts inside this directory.
    pub script_root: Option<String>,
}

impl OpenOptions {
    /// `certloop` with these options: the actor set, script profiles confined to the root. A
    /// root that does not exist is an [`crate::Error::Io`] naming it.
    pub fn apply(self, certloop: Certloop) -> Result<Certloop> {
        let certloop = match self.actor {
            Some(actor) => certloop.with_actor(actor),
            None => certloop,
        };
        match self.script_root {
            Some(dir) => certloop.with_script_root(dir),
            None => Ok(certloop),
        }
    }
}

/// One sweep's options (`{"owner", "leaseSeconds", "chunk", "concurrency", "maxAttempts",
/// "retryBaseSeconds", "expiryWarningDays"}`): [`SweepOptions`] with durations in seconds (or
/// days), every field optional with the core's defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Sweep {
    /// This agent's name in claims.
    pub owner: Option<String>,
    /// How long a claim holds, in seconds.
    pub lease_seconds: Option<u32>,
    /// Items claimed at a time.
    pub chunk: Option<u32>,
    /// Items worked on at once.
    pub concurrency: Option<usize>,
    /// Failed attempts of a retryable error before the certificate is marked failed.
    pub max_attempts: Option<u32>,
    /// First retry delay in seconds; doubled per attempt.
    pub retry_base_seconds: Option<u32>,
    /// Warn when the certificate in service expires within this many days.
    pub expiry_warning_days: Option<u32>,
}

impl From<Sweep> for SweepOptions {
    fn from(sweep: Sweep) -> Self {
        let default = SweepOptions::default();
        let seconds = |s: Option<u32>, or: time::Duration| {
            s.map_or(or, |s| time::Duration::seconds(s.into()))
        };
        SweepOptions {
            owner: sweep.owner.unwrap_or(default.owner),
            lease: seconds(sweep.lease_seconds, default.lease),
            chunk: sweep.chunk.unwrap_or(default.chunk),
            concurrency: sweep.concurrency.unwrap_or(default.concurrency),
            max_attempts: sweep.max_attempts.unwrap_or(default.max_attempts),
            retry_base: seconds(sweep.retry_base_seconds, default.retry_base),
            expiry_warning: sweep
                .expiry_warning_days
                .map_or(default.expiry_warning, |d| time::Duration::days(d.into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use crate::wire::from_value;

    #[test]
    fn a_sweep_reads_seconds_and_days_and_defaults_the_rest() {
        let value = serde_json::json!({"leaseSeconds": 30, "expiryWarningDays": 3});
        let options = SweepOptions::from(from_value::<Sweep>(value, "options").expect("a sweep"));
        let default = SweepOptions::default();
        assert_eq!(options.lease, time::Duration::seconds(30));
        assert_eq!(options.expiry_warning, time::Duration::days(3));
        assert_eq!((options.owner, options.chunk), (default.owner, default.chunk));
        assert_eq!(options.retry_base, default.retry_base);
    }

    #[test]
    fn unknown_options_are_refused_by_name() {
        let value = serde_json::json!({"lease": 30});
        let Err(Error::InvalidInput { field, message }) = from_value::<Sweep>(value, "options")
        else {
            panic!("lease is not a sweep option");
        };
        assert_eq!(field, "options.lease");
        assert!(message.starts_with("unknown field `lease`"), "{message}");
        let value = serde_json::json!({"actor": "ops", "scriptDir": "/x"});
        let Err(Error::InvalidInput { message, .. }) = from_value::<OpenOptions>(value, "options")
        else {
            panic!("scriptDir is not an open option");
        };
        assert!(message.starts_with("unknown field `scriptDir`"), "{message}");
    }
}
