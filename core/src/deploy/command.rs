//! Running a target's config test and reload commands: an argument vector (no shell), a
//! timeout, and the output kept short for the report.

use std::process::Stdio;
use std::time::Duration;

use crate::error::{Error, Result};

/// How much of a command's output goes into a report or an error.
const OUTPUT_LIMIT: usize = 2000;

/// Run `argv` to completion within `timeout`; a non-zero exit is an error carrying its output.
/// Returns the (shortened) combined output on success.
pub async fn run_command(argv: &[String], timeout: Duration) -> Result<String> {
    let (program, args) =
        argv.split_first().ok_or_else(|| Error::invalid("command", "the command is empty"))?;
    let shown = argv.join(" ");
    let child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::io(&shown, format!("cannot start: {e}")))?;
    let output = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(result) => result.map_err(|e| Error::io(&shown, e))?,
        Err(_) => {
            return Err(Error::io(&shown, format!("did not finish within {}s", timeout.as_secs())));
        }
    };
    let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stdout));
    let text = shorten(text.trim());
    if output.status.success() {
        Ok(text)
    } else {
        let status = output.status.code().map_or("a signal".to_owned(), |c| format!("status {c}"));
        Err(Error::io(&shown, format!("exited with {status}: {text}")))
    }
}

fn shorten(text: &str) -> String {
    if text.len() <= OUTPUT_LIMIT {
        return text.to_owned();
    }
    let mut end = OUTPUT_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn success_failure_and_timeout() {
        let argv = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let ok = run_command(&argv(&["sh", "-c", "echo hi"]), Duration::from_secs(5)).await;
        assert_eq!(ok.unwrap(), "hi");
        let failing = argv(&["sh", "-c", "echo broken >&2; exit 3"]);
        let err = run_command(&failing, Duration::from_secs(5)).await.unwrap_err();
        assert!(err.to_string().contains("status 3: broken"), "{err}");
        let slow = run_command(&argv(&["sleep", "5"]), Duration::from_millis(200)).await;
        assert!(slow.unwrap_err().to_string().contains("did not finish"));
        assert!(run_command(&[], Duration::from_secs(1)).await.is_err());
        let missing =
            run_command(&argv(&["certloop-no-such-program"]), Duration::from_secs(1)).await;
        assert!(missing.unwrap_err().to_string().contains("cannot start"));
    }
}
