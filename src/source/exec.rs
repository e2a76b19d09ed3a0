//! The `exec` source: a command (argv, never a shell) that prints the
//! passphrase on stdout, such as `aws secretsmanager get-secret-value`,
//! `vault kv get -field=…`, `op read`, `gcloud secrets versions access`,
//! or `pass show`.
//!
//! The command gets no stdin, a minimal environment (`PATH`, `HOME`, `LANG`
//! plus what the config passes on), and its own process group, killed
//! whole when the timeout passes. Its stdout is read straight into the
//! locked passphrase buffer; errors quote its stderr, never its stdout.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::file::{drain_wiped, read_full};
use super::{PassphraseSource, SourceError};
use crate::secret::Passphrase;

/// The `PATH` the command runs with.
const MINIMAL_PATH: &str = "/usr/local/bin:/usr/bin:/bin";
/// How much of stderr an error quotes.
const STDERR_QUOTE: usize = 512;

/// Runs a command for every fetch.
pub struct ExecSource {
    command: Vec<String>,
    pass_env: Vec<String>,
    env: BTreeMap<String, String>,
    timeout: Duration,
}

impl ExecSource {
    /// A source running `command` with `timeout`.
    pub fn new(
        command: Vec<String>,
        pass_env: Vec<String>,
        env: BTreeMap<String, String>,
        timeout: Duration,
    ) -> Self {
        Self {
            command,
            pass_env,
            env,
            timeout,
        }
    }

    fn build(&self) -> Result<Command, SourceError> {
        let (program, args) = self
            .command
            .split_first()
            .ok_or_else(|| SourceError::refused(self, "no command configured"))?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .env("PATH", MINIMAL_PATH)
            .env("LANG", "C.UTF-8")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        if let Some(home) = std::env::var_os("HOME") {
            cmd.env("HOME", home);
        }
        for name in &self.pass_env {
            if let Some(v) = std::env::var_os(name) {
                cmd.env(name, v);
            }
        }
        cmd.envs(&self.env);
        Ok(cmd)
    }
}

// By hand: `env` values may be tokens the command needs, so only their
// names are shown.
impl std::fmt::Debug for ExecSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecSource")
            .field("command", &self.command)
            .field("pass_env", &self.pass_env)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The first part of stderr, as text, for an error message.
fn quote(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let text = text.trim();
    if text.is_empty() {
        return "(no stderr)".into();
    }
    let mut end = text.len().min(STDERR_QUOTE);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let more = if end < text.len() { "…" } else { "" };
    format!("stderr: {}{more}", &text[..end])
}

impl PassphraseSource for ExecSource {
    fn kind(&self) -> &'static str {
        "exec"
    }

    fn describe(&self) -> String {
        // The program only: arguments may name vault paths an operator
        // considers sensitive, and never hold the secret anyway.
        format!("exec {}", self.command.first().map_or("", String::as_str))
    }

    fn identity(&self) -> String {
        // Arguments and environment change the answer.
        format!("exec {:?} {:?} {:?}", self.command, self.pass_env, self.env)
    }

    fn fetch(&self) -> Result<Passphrase, SourceError> {
        let mut child = self
            .build()?
            .spawn()
            .map_err(|e| SourceError::unavailable(self, format_args!("cannot start: {e}")))?;
        let pgid = child.id();
        let (Some(mut stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(SourceError::unavailable(self, "no pipes to the command"));
        };
        let err_reader = std::thread::spawn(move || {
            let mut quoted = Vec::new();
            let _ = (&mut stderr)
                .take(STDERR_QUOTE as u64 * 4)
                .read_to_end(&mut quoted);
            // Drain the rest so the command never blocks on a full pipe.
            let _ = std::io::copy(&mut stderr, &mut std::io::sink());
            quoted
        });
        let out_reader = std::thread::spawn(move || {
            let filled = Passphrase::fill_with(|buf| read_full(&mut stdout, buf));
            // Output past the buffer (an over-long passphrase) is drained
            // through a wiped buffer, not io::copy's stack buffer.
            drain_wiped(&mut stdout);
            filled
        });

        let deadline = Instant::now() + self.timeout;
        // Polled without reaping, so the group id stays ours until the
        // group is killed below.
        let exited = loop {
            match crate::sys::process::child_exited_unreaped(pgid) {
                Ok(true) => break true,
                Ok(false) if Instant::now() >= deadline => break false,
                Ok(false) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => {
                    crate::sys::process::kill_process_group(pgid);
                    let _ = child.wait();
                    return Err(SourceError::unavailable(self, format_args!("wait: {e}")));
                }
            }
        };
        // Whatever happened, nothing the command started may outlive the
        // fetch or keep the pipes open.
        crate::sys::process::kill_process_group(pgid);
        let status = child
            .wait()
            .map_err(|e| SourceError::unavailable(self, format_args!("wait: {e}")))?;
        if !exited {
            let stderr = err_reader.join().unwrap_or_default();
            return Err(SourceError::unavailable(
                self,
                format_args!(
                    "no answer within {} s, killed; {}",
                    self.timeout.as_secs(),
                    quote(&stderr)
                ),
            ));
        }
        let stderr = err_reader.join().unwrap_or_default();
        let out = out_reader
            .join()
            .map_err(|_| SourceError::unavailable(self, "reading stdout failed"))?;
        if !status.success() {
            let how = match (status.code(), status.signal()) {
                (Some(code), _) => format!("exited with status {code}"),
                (None, Some(sig)) => format!("killed by signal {sig}"),
                _ => "failed".into(),
            };
            // `out` (a possible partial secret) is dropped and wiped here.
            drop(out);
            return Err(SourceError::unavailable(
                self,
                format_args!("{how}; {}", quote(&stderr)),
            ));
        }
        out.map_err(|e| SourceError::unavailable(self, format_args!("reading stdout: {e}")))?
            .map_err(|e| SourceError::invalid_value(self, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_env_names_not_values() {
        let src = ExecSource::new(
            vec!["vault".into()],
            vec![],
            BTreeMap::from([("VAULT_TOKEN".to_owned(), "hvs.SECRET-TOKEN".to_owned())]),
            Duration::from_secs(1),
        );
        let shown = format!("{src:?}");
        assert!(shown.contains("VAULT_TOKEN"), "{shown}");
        assert!(!shown.contains("SECRET-TOKEN"), "{shown}");
    }
}
