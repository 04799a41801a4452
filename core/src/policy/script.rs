//! The script issuer of a profile: which Python script signs, how it is hosted, and the
//! parameters it receives (`args_dict` of the `certificate_request(csr, common_name,
//! args_dict)` contract).
//!
//! Pure data and checks. A sensitive parameter's value is a [`SecretString`]: it prints as
//! `[redacted]` and serializes as [`MASKED`], so a profile written to the store, to JSON or to
//! a log never holds it; the façade seals the real value separately.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize, Serializer};

use crate::crypto::SecretString;
use crate::error::{Error, Violation};

/// What a sensitive value looks like wherever it is shown.
pub const MASKED: &str = "********";

/// Default time a script may take for one call.
pub const DEFAULT_SCRIPT_TIMEOUT_SECONDS: u32 = 30;

/// The longest timeout a profile may set (one hour).
pub const MAX_SCRIPT_TIMEOUT_SECONDS: u32 = 3600;

/// Where a script runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ScriptIsolation {
    /// A child Python process per profile, killed on timeout, with a minimal environment and
    /// resource limits. Needs only a `python3` on the machine.
    #[default]
    Process,
    /// The interpreter embedded in this process (pyo3, cargo feature `python`). Fastest; a
    /// script that overruns its timeout is interrupted at its next Python instruction, but a
    /// blocking C call cannot be stopped.
    InProcess,
}

impl fmt::Display for ScriptIsolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Process => "process",
            Self::InProcess => "inProcess",
        })
    }
}

/// One entry of a script profile's `params`:
/// `{"name": "password", "value": "s3cret", "sensitive": true}` or
/// `{"name": "ticket", "dynamic": true}`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScriptParam {
    /// The key in `args_dict`.
    pub name: String,
    /// The value; absent for a dynamic parameter (each request supplies it).
    #[serde(default)]
    pub value: Option<SecretString>,
    /// Never displayed, logged, audited or returned; stored encrypted.
    #[serde(default)]
    pub sensitive: bool,
    /// Supplied by each request (`connectorParams`), not by the profile.
    #[serde(default)]
    pub dynamic: bool,
}

impl ScriptParam {
    /// A fixed, displayable parameter.
    pub fn fixed(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: Some(SecretString::new(value.into())),
            sensitive: false,
            dynamic: false,
        }
    }

    /// A fixed parameter whose value is a secret.
    pub fn sensitive(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self { sensitive: true, ..Self::fixed(name, value) }
    }

    /// A parameter each request supplies.
    pub fn dynamic(name: impl Into<String>) -> Self {
        Self { name: name.into(), value: None, sensitive: false, dynamic: true }
    }

    /// Whether the value is the mask (a profile read back from the store or from JSON output)
    /// rather than a real value.
    pub fn is_masked(&self) -> bool {
        self.sensitive && self.value.as_ref().is_some_and(|v| v.expose() == MASKED)
    }
}

impl fmt::Debug for ScriptParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value: &dyn fmt::Debug = match &self.value {
            None => &None::<()>,
            Some(_) if self.sensitive => &MASKED,
            Some(v) => &v.expose(),
        };
        f.debug_struct("ScriptParam")
            .field("name", &self.name)
            .field("value", value)
            .field("sensitive", &self.sensitive)
            .field("dynamic", &self.dynamic)
            .finish()
    }
}

impl Serialize for ScriptParam {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("ScriptParam", 4)?;
        s.serialize_field("name", &self.name)?;
        match &self.value {
            Some(_) if self.sensitive => s.serialize_field("value", MASKED)?,
            Some(value) => s.serialize_field("value", value.expose())?,
            None => s.skip_field("value")?,
        }
        s.serialize_field("sensitive", &self.sensitive)?;
        s.serialize_field("dynamic", &self.dynamic)?;
        s.end()
    }
}

impl Hash for ScriptParam {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Equal params have equal names; the value stays out of hashers.
        self.name.hash(state);
        self.sensitive.hash(state);
        self.dynamic.hash(state);
    }
}

/// Check a script issuer's settings; each problem becomes a violation naming its field.
pub(crate) fn check_script_issuer(
    path: &str,
    timeout_seconds: u32,
    params: &[ScriptParam],
    out: &mut Vec<Violation>,
) {
    if path.trim().is_empty() {
        out.push(Violation::new("issuer.path", "name the Python script file (a .py path)"));
    } else if !path.ends_with(".py") {
        out.push(Violation::new("issuer.path", format!("{path:?} is not a .py file")));
    }
    if !(1..=MAX_SCRIPT_TIMEOUT_SECONDS).contains(&timeout_seconds) {
        out.push(Violation::new(
            "issuer.timeoutSeconds",
            format!("{timeout_seconds} is out of range; use 1 to {MAX_SCRIPT_TIMEOUT_SECONDS}"),
        ));
    }
    check_script_params(params, "issuer.params", out);
}

/// Check declared parameters (names, duplicates, a value unless dynamic); each problem becomes
/// a violation under `prefix` (`issuer.params[1].name`).
pub(crate) fn check_script_params(params: &[ScriptParam], prefix: &str, out: &mut Vec<Violation>) {
    let mut seen = BTreeSet::new();
    for (i, param) in params.iter().enumerate() {
        let field = format!("{prefix}[{i}]");
        let name_ok = !param.name.is_empty()
            && param.name.len() <= 64
            && param.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !name_ok {
            out.push(Violation::new(
                format!("{field}.name"),
                format!(
                    "{:?} is not a parameter name; use 1 to 64 letters, digits, '_' or '-'",
                    param.name
                ),
            ));
        } else if !seen.insert(param.name.as_str()) {
            out.push(Violation::new(
                format!("{field}.name"),
                format!("parameter {:?} is declared twice", param.name),
            ));
        }
        match (param.dynamic, &param.value) {
            (true, Some(_)) => out.push(Violation::new(
                format!("{field}.value"),
                format!(
                    "dynamic parameter {:?} takes its value from each request; remove `value`",
                    param.name
                ),
            )),
            (false, None) => out.push(Violation::new(
                format!("{field}.value"),
                format!("parameter {:?} needs a value, or mark it `\"dynamic\": true`", param.name),
            )),
            _ => {}
        }
    }
}

/// The `args_dict` for one call: the profile's fixed values merged with the request's dynamic
/// ones. A dynamic parameter without a request value, or a request value for a parameter that
/// is not dynamic, is an [`Error::InvalidInput`] naming `connectorParams.<name>`.
///
/// `profile` names the profile in messages. Fixed values are taken as given: the façade has
/// already replaced masked sensitive values by the unsealed ones.
pub fn resolve_script_args(
    profile: &str,
    params: &[ScriptParam],
    request: &BTreeMap<String, String>,
) -> Result<Vec<ResolvedParam>, Error> {
    let mut out = Vec::with_capacity(params.len());
    let mut problems = Vec::new();
    for name in request.keys() {
        match params.iter().find(|p| &p.name == name) {
            Some(p) if p.dynamic => {}
            Some(_) => problems.push(Violation::new(
                format!("connectorParams.{name}"),
                format!("{name:?} is fixed by profile {profile}; it is not a dynamic parameter"),
            )),
            None => {
                let dynamic: Vec<&str> =
                    params.iter().filter(|p| p.dynamic).map(|p| p.name.as_str()).collect();
                problems.push(Violation::new(
                    format!("connectorParams.{name}"),
                    format!(
                        "profile {profile} declares no parameter {name:?}; its dynamic \
                         parameters are: {}",
                        if dynamic.is_empty() { "none".to_owned() } else { dynamic.join(", ") }
                    ),
                ));
            }
        }
    }
    for param in params {
        let value = if param.dynamic {
            match request.get(&param.name) {
                Some(v) => SecretString::new(v.clone()),
                None => {
                    problems.push(Violation::new(
                        format!("connectorParams.{}", param.name),
                        format!(
                            "profile {profile} needs the dynamic parameter {:?} in every \
                             request (CLI: --param {}=VALUE)",
                            param.name, param.name
                        ),
                    ));
                    continue;
                }
            }
        } else {
            match &param.value {
                Some(v) if !param.is_masked() => v.clone(),
                _ => {
                    problems.push(Violation::new(
                        format!("issuer.params.{}", param.name),
                        format!(
                            "profile {profile} has no usable value for {:?}; save the profile \
                             again with its value",
                            param.name
                        ),
                    ));
                    continue;
                }
            }
        };
        out.push(ResolvedParam { name: param.name.clone(), value, sensitive: param.sensitive });
    }
    super::template::definition_result(problems)?;
    Ok(out)
}

/// A parameter value ready for `args_dict`.
#[derive(Clone, Debug)]
pub struct ResolvedParam {
    /// The key.
    pub name: String,
    /// The value (its `Debug` is redacted).
    pub value: SecretString,
    /// Whether it must be redacted from anything the script's errors or output carry.
    pub sensitive: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Vec<ScriptParam> {
        vec![
            ScriptParam::fixed("url", "https://ca.corp"),
            ScriptParam::sensitive("password", "s3cret"),
            ScriptParam::dynamic("ticket"),
        ]
    }

    #[test]
    fn sensitive_values_never_serialize_or_debug() {
        let json = serde_json::to_string(&params()).unwrap();
        let debug = format!("{:?}", params());
        for text in [&json, &debug] {
            assert!(!text.contains("s3cret"), "{text}");
            assert!(text.contains(MASKED), "{text}");
            assert!(text.contains("https://ca.corp"), "{text}");
        }
    }

    #[test]
    fn dynamic_values_come_from_the_request() {
        let request = BTreeMap::from([("ticket".to_owned(), "CHG-42".to_owned())]);
        let args = resolve_script_args("corp-ca", &params(), &request).unwrap();
        let ticket = args.iter().find(|a| a.name == "ticket").unwrap();
        assert_eq!(ticket.value.expose(), "CHG-42");
        assert_eq!(args.len(), 3);
    }

    #[test]
    fn missing_and_unexpected_request_values_are_named() {
        let err = resolve_script_args("corp-ca", &params(), &BTreeMap::new()).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidInput { field, .. } if field == "connectorParams.ticket")
        );
        let request = BTreeMap::from([
            ("ticket".to_owned(), "x".to_owned()),
            ("url".to_owned(), "https://evil".to_owned()),
            ("nope".to_owned(), "x".to_owned()),
        ]);
        let err = resolve_script_args("corp-ca", &params(), &request).unwrap_err().to_string();
        assert!(
            err.contains("connectorParams.nope") && err.contains("connectorParams.url"),
            "{err}"
        );
    }

    #[test]
    fn definitions_are_checked() {
        let mut out = Vec::new();
        let bad = vec![
            ScriptParam { dynamic: true, ..ScriptParam::fixed("a", "b") },
            ScriptParam { value: None, ..ScriptParam::fixed("b", "") },
            ScriptParam::fixed("a b", "x"),
        ];
        check_script_issuer("ca.sh", 0, &bad, &mut out);
        let fields: Vec<&str> = out.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "issuer.path",
                "issuer.timeoutSeconds",
                "issuer.params[0].value",
                "issuer.params[1].value",
                "issuer.params[2].name"
            ]
        );
    }
}
