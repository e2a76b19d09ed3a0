//! Who is calling: the peer process of a Unix-socket connection, as the
//! kernel reports it.
//!
//! Identity is established once per connection, when it is accepted (as
//! `SO_PEERCRED` itself is): uid, gid and pid from `SO_PEERCRED`; the
//! supplementary groups, executable and systemd unit read from `/proc/PID`.
//! With `SO_PEERPIDFD` (Linux 6.5+) those reads are race-free: after them
//! the pidfd is checked to still name a running process, so the pid was not
//! reused by another process in between. Without a pidfd, rules that need
//! the executable or unit do not match (deny when identity is uncertain).

use std::fmt;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UnixStream;
use tonic::Request;
use tonic::transport::server::Connected;

use crate::error::Error;
use crate::limits::ConnectionSlot;
use crate::os;

/// The calling process. Nothing in a request body can change it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Effective uid.
    pub uid: u32,
    /// Effective gid.
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// Process id (recorded, never trusted alone: pids are reused).
    pub pid: Option<i32>,
    /// The executable (`/proc/PID/exe`), when it could be read.
    pub exe: Option<PathBuf>,
    /// The systemd unit the process runs in, from its cgroup.
    pub unit: Option<String>,
    /// Whether `exe`, `unit` and `groups` were read through a pidfd
    /// checked after the reads.
    pub race_free: bool,
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "uid {} gid {}", self.uid, self.gid)?;
        if let Some(pid) = self.pid {
            write!(f, " pid {pid}")?;
        }
        if let Some(exe) = &self.exe {
            write!(f, " exe {}", exe.display())?;
        }
        if let Some(unit) = &self.unit {
            write!(f, " unit {unit}")?;
        }
        Ok(())
    }
}

/// The systemd unit in a `/proc/PID/cgroup` text: the innermost
/// `*.service` or `*.scope` path component, from the unified hierarchy, or
/// on hybrid hosts from systemd's own `name=systemd` one.
pub fn unit_from_cgroup(text: &str) -> Option<String> {
    let unit_in = |path: &str| {
        path.rsplit('/')
            .find(|c| c.ends_with(".service") || c.ends_with(".scope"))
            .map(str::to_owned)
    };
    let line = |prefix: &str| {
        text.lines()
            .find_map(|l| l.split_once(prefix).map(|(_, p)| p.to_owned()))
    };
    line("0::")
        .and_then(|p| unit_in(&p))
        .or_else(|| line(":name=systemd:").and_then(|p| unit_in(&p)))
}

fn groups_from_status(text: &str) -> Vec<u32> {
    text.lines()
        .find_map(|l| l.strip_prefix("Groups:"))
        .map(|g| {
            g.split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

impl Caller {
    /// The identity of the process at the other end of `stream`, or `None`
    /// when the kernel gives no credentials.
    pub fn of_stream(stream: &UnixStream) -> Option<Caller> {
        let cred = stream.peer_cred().ok()?;
        let pidfd = os::peer_pidfd(stream);
        let pid = cred.pid();
        let proc_dir = pid.map(|p| PathBuf::from(format!("/proc/{p}")));
        let read = |name: &str| {
            proc_dir
                .as_ref()
                .and_then(|d| std::fs::read_to_string(d.join(name)).ok())
        };
        let groups = read("status")
            .map(|s| groups_from_status(&s))
            .unwrap_or_default();
        let exe = proc_dir
            .as_ref()
            .and_then(|d| std::fs::read_link(d.join("exe")).ok());
        let unit = read("cgroup").and_then(|c| unit_from_cgroup(&c));
        // Checked last: if the process still runs, everything read above
        // was read from it.
        let race_free = pidfd.as_ref().is_some_and(os::pidfd_alive);
        Some(Caller {
            uid: cred.uid(),
            gid: cred.gid(),
            groups,
            pid,
            exe,
            unit,
            race_free,
        })
    }

    /// The caller of a request; refused when its identity is unknown.
    pub fn of_request<T>(req: &Request<T>) -> Result<Caller, Error> {
        req.extensions()
            .get::<PeerInfo>()
            .and_then(|p| p.0.clone())
            .ok_or_else(|| {
                Error::PermissionDenied(
                    "the caller's identity could not be established from the socket".into(),
                )
            })
    }

    /// Whether the caller has `gid` as primary or supplementary group.
    pub fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }
}

/// The identity attached to a connection (tonic hands it to every request).
#[derive(Debug, Clone)]
pub struct PeerInfo(pub Option<Caller>);

/// An accepted connection with its caller identity and its slot in the
/// connection limits (released when the connection closes).
pub struct PeerStream {
    inner: UnixStream,
    info: PeerInfo,
    _slot: ConnectionSlot,
}

impl PeerStream {
    /// Wraps an accepted stream with its caller (from
    /// [`Caller::of_stream`]) and its slot.
    pub fn new(inner: UnixStream, info: PeerInfo, slot: ConnectionSlot) -> Self {
        Self {
            inner,
            info,
            _slot: slot,
        }
    }
}

impl Connected for PeerStream {
    type ConnectInfo = PeerInfo;
    fn connect_info(&self) -> PeerInfo {
        self.info.clone()
    }
}

impl AsyncRead for PeerStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for PeerStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_is_the_innermost_service_or_scope() {
        assert_eq!(
            unit_from_cgroup("0::/system.slice/myapp.service\n").as_deref(),
            Some("myapp.service")
        );
        assert_eq!(
            unit_from_cgroup(
                "0::/user.slice/user-1000.slice/user@1000.service/app.slice/web.service\n"
            )
            .as_deref(),
            Some("web.service")
        );
        assert_eq!(unit_from_cgroup("0::/\n"), None);
        assert_eq!(
            unit_from_cgroup("12:cpu:/x.service\n"),
            None,
            "v1 lines are ignored"
        );
    }

    #[test]
    fn groups_are_parsed_from_status() {
        assert_eq!(
            groups_from_status("Name:\tx\nGroups:\t4 24 1000 \n"),
            [4, 24, 1000]
        );
        assert!(groups_from_status("Groups:\t\n").is_empty());
    }
}
