//! `process` isolation: `host.py` in a child `python3 -I`, one per connector, kept running
//! between calls (so the script stays loaded) and killed when a call overruns its timeout.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Mutex;

use super::{HOST_PY, HostFailure, HostReply, Redactor, ScriptHost, ScriptSpec, parse_reply};

/// Environment variables a script process inherits; everything else is dropped.
const ENV_ALLOW_LIST: &[&str] = &["PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "HOME"];

/// How long a killed child may take to be reaped.
const REAP_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) struct ProcessHost {
    profile: String,
    script: PathBuf,
    interpreter: String,
    memory_limit_mb: u32,
    secrets: Arc<Redactor>,
    running: Mutex<Option<Running>>,
}

struct Running {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl ProcessHost {
    pub(super) fn new(spec: &ScriptSpec, secrets: Arc<Redactor>, memory_limit_mb: u32) -> Self {
        Self {
            profile: spec.profile.clone(),
            script: spec.path.clone(),
            interpreter: spec.interpreter.clone().unwrap_or_else(|| "python3".to_owned()),
            memory_limit_mb,
            secrets,
            running: Mutex::new(None),
        }
    }

    fn start(&self) -> Result<Running, HostFailure> {
        let mut command = Command::new(&self.interpreter);
        command
            .arg("-I")
            .arg("-c")
            .arg(HOST_PY)
            .arg(&self.script)
            .arg(&self.profile)
            .arg(self.memory_limit_mb.to_string())
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for name in ENV_ALLOW_LIST {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        let mut child = command.spawn().map_err(|e| {
            HostFailure::Broken(format!(
                "cannot start the Python interpreter {:?}: {e} (install python3 or set the \
                 profile's issuer.interpreter)",
                self.interpreter
            ))
        })?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(HostFailure::Broken("the script process has no pipes".into()));
        };
        // What the interpreter itself writes (start-up failures, prints outside calls) goes to
        // the log, redacted, until the process exits.
        let (profile, secrets) = (self.profile.clone(), self.secrets.clone());
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::warn!(target: "certloop::script", profile = %profile, "{}", secrets.redact(&line));
            }
        });
        Ok(Running { child, stdin, stdout: BufReader::new(stdout).lines() })
    }
}

#[async_trait]
impl ScriptHost for ProcessHost {
    async fn call(&self, request: &str, timeout: Duration) -> Result<HostReply, HostFailure> {
        let mut slot = self.running.lock().await;
        let running = match slot.as_mut() {
            Some(running) => running,
            None => slot.insert(self.start()?),
        };
        let exchange = async {
            running.stdin.write_all(request.as_bytes()).await?;
            running.stdin.write_all(b"\n").await?;
            running.stdin.flush().await?;
            running.stdout.next_line().await
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(Ok(Some(line))) => parse_reply(&line),
            Ok(result) => {
                // EOF or a broken pipe: the interpreter died (a crash, a resource limit, or
                // the script called os._exit). Reap it and start afresh next time.
                let mut dead = slot.take();
                let status = match dead.as_mut() {
                    Some(r) => tokio::time::timeout(REAP_TIMEOUT, r.child.wait()).await.ok(),
                    None => None,
                };
                let why = match (result, status) {
                    (Err(e), _) => format!("the script process failed: {e}"),
                    (_, Some(Ok(status))) => format!("the script process exited ({status})"),
                    _ => "the script process closed its output".to_owned(),
                };
                Err(HostFailure::Broken(why))
            }
            Err(_) => {
                if let Some(mut running) = slot.take() {
                    let _ = running.child.start_kill();
                    let _ = tokio::time::timeout(REAP_TIMEOUT, running.child.wait()).await;
                }
                Err(HostFailure::Timeout)
            }
        }
    }
}
