//! The audit log: one JSON line per sign, decrypt, export, lock, unlock and
//! denial, hash-chained so that an edited, dropped or reordered record is
//! detected by `fapi-agent audit verify`.
//!
//! Each record carries `seq` (one more than the previous), `prev` (the
//! previous record's hash; 64 zeros for the first record of a new log) and
//! `hash`: SHA-256, in hex, of the record's canonical JSON without `hash`
//! (keys sorted, no whitespace). Records never contain secrets: they name
//! callers, credentials, kids, jtis and outcomes. Truncation of the newest
//! records is not visible in the chain itself: keep the last hash (printed
//! by `verify`) somewhere else to detect it.
//!
//! Durability: each record is one `write(2)` on an `O_APPEND` file, so a
//! crash of the daemon loses nothing that was written. Against power loss
//! the file is `fdatasync`ed at most [`SYNC_INTERVAL`] after a record was
//! appended (`audit_fsync = "interval"`, the default: a power cut loses at
//! most that last second), or after every record (`audit_fsync =
//! "always"`, which costs a disk flush per request). A power cut can leave
//! the last record torn (half written, or zeros where the file grew); at
//! start the daemon moves such a tail aside to `LOG.torn-UNIXMS`, logs it
//! loudly and continues the chain with a record that says so.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::caller::Caller;
pub use crate::config::FsyncPolicy;

/// Longest interval between appending a record and flushing it to disk,
/// with `audit_fsync = "interval"`.
pub const SYNC_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Longest line `verify` reads as a record; records are a few hundred bytes.
const MAX_RECORD_BYTES: usize = 64 * 1024;

/// The `prev` of a log's first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who made the request, as recorded.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditCaller {
    /// uid.
    pub uid: u32,
    /// gid.
    pub gid: u32,
    /// pid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    /// Executable, as the caller's mount namespace names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
    /// What the executable is: device, inode and mount, as verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe_file: Option<String>,
    /// Set when the caller runs in other mount or user namespaces than the
    /// daemon (or they could not be read).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub other_namespaces: bool,
    /// systemd unit, from its place in the cgroup hierarchy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

impl From<&Caller> for AuditCaller {
    fn from(c: &Caller) -> Self {
        Self {
            uid: c.uid,
            gid: c.gid,
            pid: c.pid,
            exe: c.exe.as_ref().map(|e| e.display().to_string()),
            exe_file: c.exe_file.map(|f| f.to_string()),
            other_namespaces: !c.same_namespaces,
            unit: c.unit.as_ref().map(ToString::to_string),
        }
    }
}

/// Which operation a record is about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOp {
    /// SignClientAssertion.
    #[default]
    Sign,
    /// DecryptSecret.
    Decrypt,
    /// GetKeyMaterial.
    Export,
    /// GetCredential, ListCredentials.
    Read,
    /// WatchCredentials.
    Watch,
    /// Admin.Status.
    Status,
    /// Admin.Reload.
    Reload,
    /// Admin.Lock, SIGUSR1.
    Lock,
    /// Admin.Unlock.
    Unlock,
    /// The audit log itself (a torn tail set aside).
    Audit,
    /// An access token (any grant) or a pushed authorization request.
    Token,
    /// A DPoP proof.
    Dpop,
    /// A request through the egress proxy.
    Proxy,
    /// A message signature (UK OB detached JWS, Brasil, RFC 9421, Berlin
    /// Group).
    SignMessage,
    /// A signed response checked (RFC 9421 response, JARM).
    Verify,
    /// A unit's `LoadCredential=` served on the systemd credential socket.
    SystemdCredential,
    /// An HMAC with a shared secret.
    Hmac,
    /// A WS-Security PasswordDigest with a shared secret.
    PasswordDigest,
    /// An operation this build does not know (a newer daemon's record).
    #[serde(other)]
    Other,
}

impl From<crate::config::Operation> for AuditOp {
    fn from(op: crate::config::Operation) -> Self {
        use crate::config::Operation as O;
        match op {
            O::Sign => AuditOp::Sign,
            O::Decrypt => AuditOp::Decrypt,
            O::Export => AuditOp::Export,
            O::Read => AuditOp::Read,
            O::Token => AuditOp::Token,
            O::Dpop => AuditOp::Dpop,
            O::Proxy => AuditOp::Proxy,
            O::SignMessage => AuditOp::SignMessage,
            O::Hmac => AuditOp::Hmac,
            O::PasswordDigest => AuditOp::PasswordDigest,
        }
    }
}

/// How an operation ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Done.
    #[default]
    Ok,
    /// Refused by identity, policy, limits or config.
    Denied,
    /// Authorized, then failed.
    Error,
    /// Something broken was repaired (a torn audit tail).
    Recovered,
    /// An outcome this build does not know.
    #[serde(other)]
    Other,
}

/// What happened; the daemon fills `seq`, `time`, `prev` and `hash`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditEvent {
    /// The operation.
    pub op: AuditOp,
    /// How it ended.
    pub outcome: Outcome,
    /// The caller (absent for signals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller: Option<AuditCaller>,
    /// The credential concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// Its kid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// An assertion's jti.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// An assertion's aud.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// An assertion's exp.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Why it was denied or failed (never secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// A request through the egress proxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpExchange>,
}

/// What the audit log says of a proxied request: never headers, bodies or
/// the query.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct HttpExchange {
    /// The upstream.
    pub upstream: String,
    /// The method.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The status answered (the upstream's, or the proxy's own).
    pub status: u16,
    /// The FAPI interaction id.
    pub interaction_id: String,
    /// Request body bytes sent.
    pub bytes_in: u64,
    /// Response body bytes returned.
    pub bytes_out: u64,
    /// From the request to the end of the response body.
    pub duration_ms: u64,
}

impl AuditEvent {
    /// A record of `op` ending in `outcome`.
    pub fn new(op: AuditOp, outcome: Outcome) -> Self {
        Self {
            op,
            outcome,
            ..Default::default()
        }
    }

    /// Who asked.
    pub fn caller(mut self, caller: Option<&Caller>) -> Self {
        self.caller = caller.map(Into::into);
        self
    }

    /// The credential concerned.
    pub fn credential(mut self, name: &str) -> Self {
        self.credential = Some(name.to_owned());
        self
    }

    /// The key concerned.
    pub fn kid(mut self, kid: Option<String>) -> Self {
        self.kid = kid;
        self
    }

    /// Why it was denied or failed, or what it did (never secret).
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// A record as written.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditRecord {
    /// Position in the log.
    pub seq: u64,
    /// Unix time in milliseconds.
    pub time_ms: i64,
    /// The previous record's hash.
    pub prev: String,
    /// The event.
    #[serde(flatten)]
    pub event: AuditEvent,
    /// SHA-256 of this record without `hash`.
    pub hash: String,
}

/// Why the audit log cannot be used or verified.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The file could not be opened, read or written.
    #[error("audit log {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A record breaks the chain.
    #[error("audit log {path}, line {line}: {problem}")]
    Broken {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        problem: String,
    },
    /// Every record verifies but the last one is torn: what a crash or a
    /// power loss during a write leaves behind.
    #[error(
        "audit log {path}: the last record (line {line}, {bytes} bytes) is torn: half written \
         (or zeros), as a power loss during a write leaves it. The {good} records before it \
         verify{last}. It is not an edit: fapi-agent moves such a tail aside to \
         {path}.torn-UNIXMS when it next starts and records that in the chain",
        last = match last_good { Some(r) => format!(" (last seq {}, hash {})", r.seq, r.hash), None => String::new() }
    )]
    TornTail {
        /// The file.
        path: PathBuf,
        /// 1-based line of the torn record.
        line: usize,
        /// Its length.
        bytes: usize,
        /// How many records verify before it.
        good: usize,
        /// The last record that verifies.
        last_good: Option<Box<AuditRecord>>,
    },
}

fn hash_of(value: &Value) -> String {
    let mut v = value.clone();
    if let Value::Object(m) = &mut v {
        m.remove("hash");
    }
    let digest = openssl::sha::sha256(v.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

struct Tail {
    file: File,
    seq: u64,
    prev: String,
}

/// An open audit log.
pub struct AuditLog {
    path: PathBuf,
    tail: Mutex<Tail>,
    fsync: FsyncPolicy,
    /// A record was appended since the last flush.
    dirty: std::sync::atomic::AtomicBool,
}

/// What [`AuditLog::open`] found at the end of an existing log.
struct Scan {
    last: Option<AuditRecord>,
    /// Byte length of the part that verifies.
    good_len: u64,
    /// The torn tail, if any.
    torn: Option<AuditError>,
}

impl AuditLog {
    /// Opens (or creates, mode 0600) the log, verifies it and continues its
    /// chain. A torn last record is moved aside (see the module docs).
    pub fn open(path: &Path, fsync: FsyncPolicy) -> Result<Self, AuditError> {
        let io = |source| AuditError::Io {
            path: path.to_owned(),
            source,
        };
        let scan = match scan(path) {
            Ok(s) => s,
            Err(AuditError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Scan {
                    last: None,
                    good_len: 0,
                    torn: None,
                }
            }
            Err(e) => return Err(e),
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(io)?;
        let kept_aside = match &scan.torn {
            None => None,
            Some(torn) => Some(set_torn_tail_aside(path, &file, scan.good_len, torn)?),
        };
        let (seq, prev) = match &scan.last {
            Some(last) => (last.seq + 1, last.hash.clone()),
            None => (0, GENESIS.to_owned()),
        };
        let log = Self {
            path: path.to_owned(),
            tail: Mutex::new(Tail { file, seq, prev }),
            fsync,
            dirty: std::sync::atomic::AtomicBool::new(false),
        };
        if let (Some(torn), Some((aside, bytes))) = (&scan.torn, kept_aside) {
            tracing::error!(
                log = %path.display(), kept_aside = %aside.display(), bytes,
                "AUDIT LOG TAIL WAS TORN (a crash or power loss during a write): {torn}; \
                 the torn bytes are kept aside and the chain continues"
            );
            log.record(AuditEvent {
                op: AuditOp::Audit,
                outcome: Outcome::Recovered,
                detail: Some(format!(
                    "the last {bytes} bytes of the log were a torn record (a crash or power \
                     loss during a write); kept aside in {}; the chain continues from seq {}",
                    aside.display(),
                    scan.last.as_ref().map_or(0, |l| l.seq + 1)
                )),
                ..Default::default()
            });
            log.sync();
        }
        Ok(log)
    }

    /// Appends one record. A write failure is logged, not fatal: the
    /// operation it records has already happened.
    pub fn record(&self, event: AuditEvent) {
        let mut tail = self.tail.lock().unwrap_or_else(|p| p.into_inner());
        let mut record = AuditRecord {
            seq: tail.seq,
            time_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
            prev: tail.prev.clone(),
            event,
            hash: String::new(),
        };
        let value = serde_json::to_value(&record).unwrap_or(Value::Null);
        record.hash = hash_of(&value);
        let line = match serde_json::to_string(&record) {
            Ok(l) => l + "\n",
            Err(e) => {
                tracing::error!(error = %e, "cannot encode an audit record");
                return;
            }
        };
        // One write(2) of the whole line on an O_APPEND file: a crash cannot
        // leave half a record merged with the next one.
        match tail.file.write_all(line.as_bytes()) {
            Ok(()) => {
                tail.seq += 1;
                tail.prev = record.hash;
                match self.fsync {
                    FsyncPolicy::Always => {
                        if let Err(e) = tail.file.sync_data() {
                            tracing::error!(path = %self.path.display(), error = %e, "audit log not flushed");
                        }
                    }
                    FsyncPolicy::Interval => {
                        self.dirty.store(true, std::sync::atomic::Ordering::Release);
                    }
                }
            }
            Err(e) => {
                tracing::error!(path = %self.path.display(), error = %e, "audit record not written")
            }
        }
    }

    /// Flushes appended records to disk, if any since the last flush. The
    /// daemon calls it every [`SYNC_INTERVAL`] (on a blocking thread) and at
    /// exit.
    pub fn sync(&self) {
        if !self.dirty.swap(false, std::sync::atomic::Ordering::AcqRel) {
            return;
        }
        let tail = self.tail.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = tail.file.sync_data() {
            tracing::error!(path = %self.path.display(), error = %e, "audit log not flushed");
        }
    }
}

/// Copies the torn tail (from `good_len` to the end) to a new file beside
/// the log, flushes it, then cuts it off the log. Returns that file and
/// how many bytes it holds.
fn set_torn_tail_aside(
    path: &Path,
    log: &File,
    good_len: u64,
    _torn: &AuditError,
) -> Result<(PathBuf, u64), AuditError> {
    use std::io::{Seek, SeekFrom};
    let io = |source| AuditError::Io {
        path: path.to_owned(),
        source,
    };
    let mut reader = File::open(path).map_err(io)?;
    reader.seek(SeekFrom::Start(good_len)).map_err(io)?;
    let mut tail = Vec::new();
    reader.read_to_end(&mut tail).map_err(io)?;
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".torn-{ms}"));
    let aside = PathBuf::from(name);
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&aside)
        .map_err(|source| AuditError::Io {
            path: aside.clone(),
            source,
        })?;
    out.write_all(&tail)
        .and_then(|()| out.sync_all())
        .map_err(|source| AuditError::Io {
            path: aside.clone(),
            source,
        })?;
    log.set_len(good_len).map_err(io)?;
    log.sync_all().map_err(io)?;
    Ok((aside, tail.len() as u64))
}

/// Checks every record's hash, `seq` and `prev` link; returns the last
/// record (`None` for an empty log). A torn last record is reported as
/// [`AuditError::TornTail`], apart from edits.
pub fn verify(path: &Path) -> Result<Option<AuditRecord>, AuditError> {
    let scan = scan(path)?;
    match scan.torn {
        Some(torn) => Err(torn),
        None => Ok(scan.last),
    }
}

/// Reads the log record by record, verifying the chain.
fn scan(path: &Path) -> Result<Scan, AuditError> {
    let (file, _) = crate::sys::fs::open_regular(path).map_err(|e| AuditError::Io {
        path: path.to_owned(),
        source: match e {
            crate::sys::fs::FileError::Io { source, .. } => source,
            other => std::io::Error::other(other.to_string()),
        },
    })?;
    let broken = |line: usize, problem: String| AuditError::Broken {
        path: path.to_owned(),
        line,
        problem,
    };
    let mut reader = BufReader::new(file);
    let mut last: Option<AuditRecord> = None;
    let mut good_len = 0u64;
    let mut good = 0usize;
    // A line that is not a record: torn if nothing follows it.
    let mut unreadable: Option<(usize, usize, String)> = None;
    let mut buf = Vec::new();
    for n in 1.. {
        buf.clear();
        let read = (&mut reader)
            .take(MAX_RECORD_BYTES as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|source| AuditError::Io {
                path: path.to_owned(),
                source,
            })?;
        if read == 0 {
            break;
        }
        if let Some((line, _, problem)) = unreadable.take() {
            // Something follows the unreadable line: not a torn tail.
            return Err(broken(line, problem));
        }
        let complete = buf.last() == Some(&b'\n');
        let text = &buf[..buf.len() - usize::from(complete)];
        let parsed = if buf.len() > MAX_RECORD_BYTES {
            Err(format!(
                "a line of over {MAX_RECORD_BYTES} bytes is not a record"
            ))
        } else {
            serde_json::from_slice::<Value>(text)
                .map_err(|e| format!("not a JSON record ({e})"))
                .and_then(|value| {
                    serde_json::from_value::<AuditRecord>(value.clone())
                        .map(|r| (value, r))
                        .map_err(|e| format!("not an audit record ({e})"))
                })
        };
        let (value, record) = match parsed {
            Ok(p) if complete => p,
            Ok(_) => {
                unreadable = Some((n, read, "the record has no line end".into()));
                continue;
            }
            Err(problem) => {
                unreadable = Some((n, read, problem));
                continue;
            }
        };
        if hash_of(&value) != record.hash {
            return Err(broken(
                n,
                format!(
                    "record seq {} was edited: its hash does not match its content",
                    record.seq
                ),
            ));
        }
        match &last {
            None if record.prev != GENESIS => {
                return Err(broken(
                    n,
                    format!(
                        "the log starts at seq {} with prev {}: earlier records were removed (or this is a continued log; compare prev with the archived log's last hash)",
                        record.seq, record.prev
                    ),
                ));
            }
            Some(prev) if record.prev != prev.hash || record.seq != prev.seq + 1 => {
                // At the first break a dropped record and a moved one look
                // alike; say which is possible.
                let what = if record.seq <= prev.seq {
                    "records are out of order (moved or duplicated)"
                } else if record.seq > prev.seq + 1 {
                    "records are missing (dropped, or moved further down)"
                } else {
                    "the chain is broken (a record was replaced)"
                };
                return Err(broken(
                    n,
                    format!("{what}: seq {} follows seq {}", record.seq, prev.seq),
                ));
            }
            _ => {}
        }
        good_len += read as u64;
        good += 1;
        last = Some(record);
    }
    let torn = unreadable.map(|(line, bytes, _)| AuditError::TornTail {
        path: path.to_owned(),
        line,
        bytes,
        good,
        last_good: last.clone().map(Box::new),
    });
    Ok(Scan {
        last,
        good_len,
        torn,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(op: &str) -> AuditEvent {
        AuditEvent {
            op: match op {
                "sign" => AuditOp::Sign,
                "decrypt" => AuditOp::Decrypt,
                "lock" => AuditOp::Lock,
                _ => AuditOp::Unlock,
            },
            outcome: Outcome::Ok,
            credential: Some("acme".into()),
            jti: Some("j".into()),
            ..Default::default()
        }
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn chain_detects_edit_drop_reorder_and_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = AuditLog::open(&path, FsyncPolicy::Interval).unwrap();
        for op in ["sign", "decrypt", "sign", "lock"] {
            log.record(event(op));
        }
        drop(log);
        // Reopening continues the chain.
        AuditLog::open(&path, FsyncPolicy::Always)
            .unwrap()
            .record(event("unlock"));
        let last = verify(&path).unwrap().unwrap();
        assert_eq!((last.seq, last.event.op), (4, AuditOp::Unlock));
        let good = lines(&path);

        let write = |ls: &[String]| std::fs::write(&path, ls.join("\n") + "\n").unwrap();
        let mut edited = good.clone();
        edited[1] = edited[1].replace("decrypt", "sign");
        write(&edited);
        assert!(
            verify(&path)
                .unwrap_err()
                .to_string()
                .contains("line 2: record seq 1 was edited")
        );

        let mut dropped = good.clone();
        dropped.remove(2);
        write(&dropped);
        assert!(
            verify(&path)
                .unwrap_err()
                .to_string()
                .contains("line 3: records are missing")
        );

        let mut reordered = good.clone();
        reordered.swap(1, 2);
        write(&reordered);
        assert!(
            verify(&path)
                .unwrap_err()
                .to_string()
                .contains("line 2: records are missing (dropped, or moved")
        );
        let mut moved_up = good.clone();
        let third = moved_up.remove(3);
        moved_up.insert(1, third);
        moved_up.swap(2, 3);
        write(&moved_up);
        assert!(verify(&path).unwrap_err().to_string().contains("missing"));
        let mut duplicated = good.clone();
        duplicated.insert(2, good[1].clone());
        write(&duplicated);
        assert!(
            verify(&path)
                .unwrap_err()
                .to_string()
                .contains("line 3: records are out of order")
        );

        write(&good[1..]);
        assert!(
            verify(&path)
                .unwrap_err()
                .to_string()
                .contains("earlier records were removed")
        );

        write(&good);
        assert!(verify(&path).is_ok());
    }
}
