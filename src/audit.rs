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

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::caller::Caller;

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
    /// Executable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
    /// systemd unit.
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
            unit: c.unit.clone(),
        }
    }
}

/// What happened; the daemon fills `seq`, `time`, `prev` and `hash`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditEvent {
    /// sign, decrypt, export, lock, unlock.
    pub op: String,
    /// ok, denied or error.
    pub outcome: String,
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
}

impl AuditLog {
    /// Opens (or creates, mode 0600) the log and continues its chain after
    /// verifying it.
    pub fn open(path: &Path) -> Result<Self, AuditError> {
        let io = |source| AuditError::Io {
            path: path.to_owned(),
            source,
        };
        let (seq, prev) = match verify(path) {
            Ok(Some(last)) => (last.seq + 1, last.hash),
            Ok(None) => (0, GENESIS.to_owned()),
            Err(AuditError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                (0, GENESIS.to_owned())
            }
            Err(e) => return Err(e),
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        Ok(Self {
            path: path.to_owned(),
            tail: Mutex::new(Tail { file, seq, prev }),
        })
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
            }
            Err(e) => {
                tracing::error!(path = %self.path.display(), error = %e, "audit record not written")
            }
        }
    }
}

/// Checks every record's hash, `seq` and `prev` link; returns the last
/// record (`None` for an empty log).
pub fn verify(path: &Path) -> Result<Option<AuditRecord>, AuditError> {
    let file = File::open(path).map_err(|source| AuditError::Io {
        path: path.to_owned(),
        source,
    })?;
    let broken = |line: usize, problem: String| AuditError::Broken {
        path: path.to_owned(),
        line,
        problem,
    };
    let mut last: Option<AuditRecord> = None;
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let n = i + 1;
        let line = line.map_err(|source| AuditError::Io {
            path: path.to_owned(),
            source,
        })?;
        let value: Value = serde_json::from_str(&line)
            .map_err(|e| broken(n, format!("not a JSON record ({e})")))?;
        let record: AuditRecord = serde_json::from_value(value.clone())
            .map_err(|e| broken(n, format!("not an audit record ({e})")))?;
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
        last = Some(record);
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(op: &str) -> AuditEvent {
        AuditEvent {
            op: op.into(),
            outcome: "ok".into(),
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
        let log = AuditLog::open(&path).unwrap();
        for op in ["sign", "decrypt", "sign", "lock"] {
            log.record(event(op));
        }
        drop(log);
        // Reopening continues the chain.
        AuditLog::open(&path).unwrap().record(event("unlock"));
        let last = verify(&path).unwrap().unwrap();
        assert_eq!((last.seq, last.event.op.as_str()), (4, "unlock"));
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
