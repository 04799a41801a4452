//! Runnable certloop programs used by the README: see `src/bin/`.
//!
//! - `quickstart`: the embedded default CA issues a certificate into a directory.
//! - `custom_policy`: a template and profile from JSON, an accepted and a refused request.
//! - `renewal_sweep`: an injected clock moves forward and due certificates are renewed.
