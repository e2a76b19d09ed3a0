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
//!
//! The executable is identified by what it is, not by its name: the device
//! and inode (and mount) of the file `/proc/PID/exe` refers to. Its path is
//! the name in the caller's own mount namespace, which the caller controls
//! (a bind mount over `/usr/bin/openssl` makes any program "be" it), so it
//! is recorded but never matched on. The caller's mount and user namespaces
//! are compared with the daemon's: a caller in others matches no executable
//! rule unless the rule says so.
//!
//! The systemd unit is read from the unit's place in the cgroup hierarchy,
//! which only root and systemd shape: the first component below the slices.
//! Anything under it belongs to that unit, including a subtree systemd
//! delegated to its processes (`user@UID.service` is delegated to the user,
//! who can create `…/user@UID.service/app.slice/payments.service` there), so
//! a name found further down is never taken for a system unit. Inside a
//! user's manager, the user's own units are recognised as user units of
//! that uid, and only rules naming that uid match them.

use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use tokio::net::UnixStream;

pub use crate::sys::fs::FileIdentity;

/// The systemd unit a process runs in, by its place in the hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unit {
    /// A unit of the system manager (`/…slice/NAME.service`), such as
    /// `payments.service`, `session-3.scope` or `user@1000.service`.
    System(String),
    /// A unit of user `uid`'s own manager, inside `user@UID.service`.
    User {
        /// Whose manager.
        uid: u32,
        /// The unit's name.
        name: String,
    },
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unit::System(n) => f.write_str(n),
            Unit::User { uid, name } => write!(f, "{name} (user unit of uid {uid})"),
        }
    }
}

fn is_unit(component: &str) -> bool {
    component.ends_with(".service") || component.ends_with(".scope")
}

/// The unit of a cgroup path: the first component below the leading
/// slices, or, inside `user.slice/user-UID.slice/user@UID.service`, the
/// first one below that manager's slices as a user unit of UID.
pub fn unit_of_cgroup_path(path: &str) -> Option<Unit> {
    let parts: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let first = parts.iter().position(|c| !c.ends_with(".slice"))?;
    let unit = parts[first];
    if !is_unit(unit) {
        return None;
    }
    let manager_uid = unit
        .strip_prefix("user@")
        .and_then(|u| u.strip_suffix(".service"))
        .and_then(|u| u.parse::<u32>().ok());
    let in_user_slice = parts[..first]
        == [
            "user.slice",
            &format!("user-{}.slice", manager_uid.unwrap_or(u32::MAX)),
        ];
    if let (Some(uid), true) = (manager_uid, in_user_slice) {
        let below = &parts[first + 1..];
        if let Some(inner) = below.iter().position(|c| !c.ends_with(".slice"))
            && is_unit(below[inner])
        {
            return Some(Unit::User {
                uid,
                name: below[inner].to_owned(),
            });
        }
    }
    Some(Unit::System(unit.to_owned()))
}

/// The systemd unit in a `/proc/PID/cgroup` text, from the unified
/// hierarchy or, on hybrid hosts, from systemd's own `name=systemd` one.
pub fn unit_from_cgroup(text: &str) -> Option<Unit> {
    let line = |prefix: &str| {
        text.lines()
            .find_map(|l| l.split_once(prefix).map(|(_, p)| p.to_owned()))
    };
    line("0::")
        .and_then(|p| unit_of_cgroup_path(&p))
        .or_else(|| line(":name=systemd:").and_then(|p| unit_of_cgroup_path(&p)))
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

/// The mount and user namespaces of a process (their nsfs inodes).
fn namespaces(proc_dir: &Path) -> Option<(u64, u64)> {
    let ino = |ns: &str| {
        std::fs::metadata(proc_dir.join("ns").join(ns))
            .ok()
            .map(|m| m.ino())
    };
    Some((ino("mnt")?, ino("user")?))
}

/// The daemon's own mount and user namespaces.
fn own_namespaces() -> Option<(u64, u64)> {
    static OWN: std::sync::OnceLock<Option<(u64, u64)>> = std::sync::OnceLock::new();
    *OWN.get_or_init(|| namespaces(Path::new("/proc/self")))
}

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
    /// The executable's path as the caller's mount namespace names it:
    /// recorded, never matched on (see the module docs).
    pub exe: Option<PathBuf>,
    /// What the executable is, when it could be read.
    pub exe_file: Option<FileIdentity>,
    /// Whether the caller runs in the daemon's own mount and user
    /// namespaces (false when unknown).
    pub same_namespaces: bool,
    /// The systemd unit the process runs in, from its cgroup.
    pub unit: Option<Unit>,
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
        if let Some(id) = &self.exe_file {
            write!(f, " ({id})")?;
        }
        if !self.same_namespaces {
            f.write_str(" in other namespaces")?;
        }
        if let Some(unit) = &self.unit {
            write!(f, " unit {unit}")?;
        }
        Ok(())
    }
}

impl Caller {
    /// The identity of the process at the other end of `stream`, or `None`
    /// when the kernel gives no credentials.
    pub fn of_stream(stream: &UnixStream) -> Option<Caller> {
        let cred = stream.peer_cred().ok()?;
        let pidfd = crate::sys::process::peer_pidfd(stream);
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
        // stat follows the magic link to the file the process executes,
        // whatever its name in the caller's namespace.
        let exe_file = proc_dir
            .as_ref()
            .and_then(|d| FileIdentity::of(&d.join("exe")).ok());
        let same_namespaces = proc_dir
            .as_deref()
            .and_then(namespaces)
            .is_some_and(|ns| own_namespaces() == Some(ns));
        let unit = read("cgroup").and_then(|c| unit_from_cgroup(&c));
        // Checked last: if the process still runs, everything read above
        // was read from it.
        let race_free = pidfd.as_ref().is_some_and(crate::sys::process::pidfd_alive);
        Some(Caller {
            uid: cred.uid(),
            gid: cred.gid(),
            groups,
            pid,
            exe,
            exe_file,
            same_namespaces,
            unit,
            race_free,
        })
    }

    /// Whether the caller has `gid` as primary or supplementary group.
    pub fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_is_the_first_below_the_slices_never_one_in_a_delegated_subtree() {
        let sys = |n: &str| Some(Unit::System(n.into()));
        assert_eq!(
            unit_from_cgroup("0::/system.slice/myapp.service\n"),
            sys("myapp.service")
        );
        assert_eq!(
            unit_from_cgroup("0::/system.slice/system-getty.slice/getty@tty1.service\n"),
            sys("getty@tty1.service")
        );
        assert_eq!(
            unit_from_cgroup("0::/payments.slice/app.service\n"),
            sys("app.service")
        );
        // A container's delegated subtree belongs to its unit.
        assert_eq!(
            unit_from_cgroup("0::/system.slice/ctr.service/payload/payments.service\n"),
            sys("ctr.service")
        );
        // A user's own units are user units of that uid, never system units.
        assert_eq!(
            unit_from_cgroup(
                "0::/user.slice/user-1000.slice/user@1000.service/app.slice/payments.service\n"
            ),
            Some(Unit::User {
                uid: 1000,
                name: "payments.service".into()
            })
        );
        assert_eq!(
            unit_from_cgroup("0::/user.slice/user-1000.slice/user@1000.service/init.scope\n"),
            Some(Unit::User {
                uid: 1000,
                name: "init.scope".into()
            })
        );
        // A manager not at its own place is not a user's manager.
        assert_eq!(
            unit_from_cgroup("0::/user.slice/user-7.slice/user@1000.service/app.slice/x.service\n"),
            sys("user@1000.service")
        );
        assert_eq!(
            unit_from_cgroup("0::/user.slice/user-1000.slice/session-3.scope\n"),
            sys("session-3.scope")
        );
        assert_eq!(unit_from_cgroup("0::/\n"), None);
        assert_eq!(unit_from_cgroup("0::/system.slice/not-a-unit\n"), None);
        assert_eq!(
            unit_from_cgroup("12:cpu:/x.service\n"),
            None,
            "v1 lines are ignored"
        );
        assert_eq!(
            unit_from_cgroup("1:name=systemd:/system.slice/a.service\n0::/\n"),
            sys("a.service"),
            "hybrid hosts: systemd's own hierarchy"
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
