//! The `certificate_request(csr, common_name, args_dict)` contract without a script host, for
//! connectors whose code runs elsewhere: a binding's registered callable (Python
//! `Certloop.register_ca`). The caller runs the function; this type supplies its arguments,
//! checks what it returned exactly as a script CA's answer is checked (the CSR's key, the
//! approved CN and SANs, the approved validity, a chain that signed the leaf), and builds its
//! errors with the sensitive parameter values redacted from every field.

use std::fmt;

use super::{Redactor, accept_returned, csr_and_common_name};
use crate::ca::{CertificateOrder, Issued};
use crate::error::{Error, Result};
use crate::policy::{
    ResolvedParam, ScriptParam, check_script_params, definition_result, resolve_script_args,
};

/// The contract of one registered connector: its name and the fixed values of `args_dict`.
pub struct ScriptContract {
    name: String,
    params: Vec<ScriptParam>,
    secrets: Redactor,
}

/// The arguments of one call, and the redaction that goes with them.
pub struct ContractCall {
    /// `csr`: the PKCS#10 request, PEM.
    pub csr_pem: String,
    /// `common_name`: the approved CN, or the first SAN when the subject has none.
    pub common_name: String,
    /// `args_dict`, in declaration order (values are secrets: their `Debug` is redacted).
    pub args: Vec<ResolvedParam>,
    secrets: Redactor,
}

impl ScriptContract {
    /// The contract of connector `name` with `params` (the shape of a script profile's
    /// `params`; `prefix` names them in errors). Values are fixed at registration: a dynamic
    /// parameter is refused, since a registered connector's profile declares no parameters
    /// for requests to fill.
    pub fn new(name: impl Into<String>, params: Vec<ScriptParam>, prefix: &str) -> Result<Self> {
        let mut problems = Vec::new();
        check_script_params(&params, prefix, &mut problems);
        for (i, param) in params.iter().enumerate() {
            if param.dynamic {
                problems.push(crate::Violation::new(
                    format!("{prefix}[{i}].dynamic"),
                    format!(
                        "parameter {:?}: a registered connector takes fixed values only; give \
                         its value here",
                        param.name
                    ),
                ));
            }
            if param.is_masked() {
                problems.push(crate::Violation::new(
                    format!("{prefix}[{i}].value"),
                    format!("parameter {:?}: give the real value, not the mask", param.name),
                ));
            }
        }
        definition_result(problems)?;
        let secrets = Redactor::new(&params);
        Ok(Self { name: name.into(), params, secrets })
    }

    /// The connector's name, as errors show it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The declared parameters (sensitive values print masked).
    pub fn params(&self) -> &[ScriptParam] {
        &self.params
    }

    /// The arguments for `order`.
    pub fn call_for(&self, order: &CertificateOrder) -> Result<ContractCall> {
        let args = resolve_script_args(&self.name, &self.params, order.connector_params.as_map())?;
        let (csr_pem, common_name) = csr_and_common_name(order)?;
        let secrets = self.secrets.with(&args);
        Ok(ContractCall { csr_pem, common_name, args, secrets })
    }

    /// Accept what `function` returned for `order` (a PEM leaf, optionally followed by its
    /// chain), or say why not.
    pub fn accept(
        &self,
        call: &ContractCall,
        returned: Option<String>,
        order: &CertificateOrder,
        function: &str,
    ) -> Result<Issued> {
        accept_returned(returned, order, |why| {
            self.failure(call, None, &format!("{function} returned {why}"), None, false)
        })
    }

    /// An [`Error::Script`] naming this connector: an exception the function raised
    /// (`exception` is its type name), or a finding about what it returned. Every field is
    /// redacted.
    pub fn failure(
        &self,
        call: &ContractCall,
        exception: Option<&str>,
        message: &str,
        traceback: Option<&str>,
        retryable: bool,
    ) -> Error {
        Error::Script {
            script: call.secrets.redact(&self.name),
            exception: exception.map(|e| call.secrets.redact(e)),
            message: call.secrets.redact(message),
            traceback: traceback.map(|t| call.secrets.redact(t)),
            retryable,
        }
    }

    /// `text` with every sensitive value of `call` replaced by the mask.
    pub fn redact(&self, call: &ContractCall, text: &str) -> String {
        call.secrets.redact(text)
    }
}

impl fmt::Debug for ScriptContract {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptContract")
            .field("name", &self.name)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ContractCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContractCall")
            .field("common_name", &self.common_name)
            .field("args", &self.args)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::MASKED;

    #[test]
    fn dynamic_and_masked_parameters_are_refused_with_their_fields() {
        let params = vec![
            ScriptParam::dynamic("ticket"),
            ScriptParam::sensitive("key", MASKED),
            ScriptParam::fixed("url", "https://ca"),
        ];
        let Err(Error::InvalidInput { field, message }) = ScriptContract::new("corp", params, "p")
        else {
            panic!("accepted a dynamic parameter");
        };
        assert_eq!(field, "p[0].dynamic");
        assert!(message.contains("p[1].value"), "{message}");
    }

    #[test]
    fn failures_and_debug_never_show_a_sensitive_value() {
        let contract = ScriptContract::new(
            "corp",
            vec![ScriptParam::sensitive("apiKey", "k-123456"), ScriptParam::fixed("url", "u")],
            "params",
        )
        .unwrap();
        let call = ContractCall {
            csr_pem: String::new(),
            common_name: "a.example".into(),
            args: Vec::new(),
            secrets: contract.secrets.with(&[]),
        };
        let err = contract.failure(
            &call,
            Some("RuntimeError"),
            "denied for k-123456",
            Some("Traceback: 'k-123456'"),
            true,
        );
        let text = format!("{err} {err:?} {contract:?} {call:?}");
        assert!(!text.contains("k-123456"), "{text}");
        assert!(text.contains(MASKED) && err.is_retryable(), "{text}");
    }
}
