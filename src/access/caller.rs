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
//!
//! Where a system bus is present, the system manager is asked instead
//! ([`crate::sys::systemd_bus`]: `GetUnitByPIDFD` with the caller's pidfd,
//! or `GetUnitByPID` on systemd before 253), once per connection, on a
//! blocking thread, within [`SYSTEMD_TIMEOUT`]; [`settle_unit`] decides:
//! - systemd answered: its answer is the unit, whatever the cgroup path
//!   says (a disagreement is logged). Its answer for a process in a user's
//!   manager is `user@UID.service`; the user unit inside is then taken from
//!   the cgroup placement below that manager, as a user unit of UID only;
//! - the bus is present but systemd did not answer (no `systemd1` on the
//!   bus, an error, a timeout, the process gone): the caller has no unit,
//!   so no rule naming a unit matches, and the reason is logged and given
//!   in the denial;
//! - no system bus: the cgroup placement above.

use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use tokio::net::UnixStream;

pub use crate::sys::fs::FileIdentity;
use crate::sys::systemd_bus::{self, Answer};

/// How long a connection's caller may wait for systemd's answer (all bus
/// calls together) before it counts as unanswered.
pub const SYSTEMD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// After systemd did not answer in time, callers are not asked about for
/// this long (their unit stays unknown at once), so a stuck bus does not
/// hold up every new connection by [`SYSTEMD_TIMEOUT`].
const SYSTEMD_BACKOFF: std::time::Duration = std::time::Duration::from_secs(5);

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

/// Where a caller's [`Unit`] came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitSource {
    /// No system bus: the cgroup placement.
    Cgroup,
    /// The system manager's answer over the system bus.
    Systemd,
    /// A system bus is present but systemd did not say (why): the caller
    /// has no unit, so no rule naming a unit admits it.
    Unanswered(String),
}

/// A caller's unit as [`settle_unit`] decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    /// The unit rules are matched against.
    pub unit: Option<Unit>,
    /// Where it came from.
    pub source: UnitSource,
    /// Set when systemd's answer and the cgroup placement disagree (for
    /// the log; systemd's answer is used).
    pub disagreement: Option<String>,
}

/// The caller's unit from systemd's `answer` and the `cgroup` placement:
/// systemd's answer wins where there is one; a user unit is taken from the
/// cgroup only inside the `user@UID.service` systemd named; an unanswered
/// question leaves no unit; without a bus the cgroup placement stands.
pub fn settle_unit(answer: Answer, cgroup: Option<Unit>) -> Settled {
    let id = match answer {
        Answer::NoBus => {
            return Settled {
                unit: cgroup,
                source: UnitSource::Cgroup,
                disagreement: None,
            };
        }
        Answer::Unanswered(why) => {
            return Settled {
                unit: None,
                source: UnitSource::Unanswered(why),
                disagreement: None,
            };
        }
        Answer::NoUnit => {
            let disagreement = cgroup.as_ref().map(|u| {
                format!(
                    "its cgroup places it in {u}, systemd says it is in no unit: systemd's answer \
                     is used"
                )
            });
            return Settled {
                unit: None,
                source: UnitSource::Systemd,
                disagreement,
            };
        }
        Answer::Unit(id) => id,
    };
    let manager_uid = id
        .strip_prefix("user@")
        .and_then(|u| u.strip_suffix(".service"))
        .and_then(|u| u.parse::<u32>().ok());
    if let (Some(m), Some(Unit::User { uid, .. })) = (manager_uid, &cgroup)
        && m == *uid
    {
        return Settled {
            unit: cgroup,
            source: UnitSource::Systemd,
            disagreement: None,
        };
    }
    let unit = Unit::System(id);
    let disagreement = (cgroup.as_ref() != Some(&unit)).then(|| {
        format!(
            "its cgroup places it in {}, systemd says {unit}: systemd's answer is used",
            cgroup.map_or_else(|| "no unit".to_owned(), |u| u.to_string())
        )
    });
    Settled {
        unit: Some(unit),
        source: UnitSource::Systemd,
        disagreement,
    }
}

/// Asks systemd about the process behind `pidfd` on a blocking thread,
/// within [`SYSTEMD_TIMEOUT`].
async fn ask_systemd(pidfd: Option<&std::os::fd::OwnedFd>, pid: Option<i32>) -> Answer {
    use std::sync::Mutex;
    static STUCK_SINCE: Mutex<Option<std::time::Instant>> = Mutex::new(None);
    if systemd_bus::system_bus().is_none() {
        return Answer::NoBus;
    }
    let (Some(pidfd), Some(pid)) = (pidfd, pid) else {
        return Answer::Unanswered(
            "the kernel gave no pidfd for the caller (SO_PEERPIDFD needs Linux 6.5), so systemd \
             cannot be asked race-free"
                .into(),
        );
    };
    let stuck = |at: Option<std::time::Instant>| {
        if let Ok(mut s) = STUCK_SINCE.lock() {
            *s = at;
        }
    };
    if let Ok(s) = STUCK_SINCE.lock()
        && let Some(at) = *s
        && at.elapsed() < SYSTEMD_BACKOFF
    {
        return Answer::Unanswered(format!(
            "systemd did not answer within {} ms {} s ago; not asked again for {} s",
            SYSTEMD_TIMEOUT.as_millis(),
            at.elapsed().as_secs(),
            SYSTEMD_BACKOFF.as_secs()
        ));
    }
    let fd = match pidfd.try_clone() {
        Ok(fd) => fd,
        Err(e) => {
            return Answer::Unanswered(format!("the caller's pidfd could not be copied: {e}"));
        }
    };
    let job = tokio::task::spawn_blocking(move || systemd_bus::ask(&fd, pid));
    match tokio::time::timeout(SYSTEMD_TIMEOUT, job).await {
        Ok(Ok(answer)) => {
            stuck(None);
            answer
        }
        Ok(Err(e)) => Answer::Unanswered(format!("asking systemd failed: {e}")),
        Err(_) => {
            stuck(Some(std::time::Instant::now()));
            Answer::Unanswered(format!(
                "systemd did not answer within {} ms",
                SYSTEMD_TIMEOUT.as_millis()
            ))
        }
    }
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
    /// The systemd unit the process runs in: systemd's answer where a
    /// system bus is present, else its cgroup placement (see the module
    /// docs).
    pub unit: Option<Unit>,
    /// Where `unit` came from (why it is missing, when systemd did not
    /// answer).
    pub unit_source: UnitSource,
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
        if let UnitSource::Unanswered(why) = &self.unit_source {
            write!(f, " unit unknown ({why})")?;
        }
        Ok(())
    }
}

impl Caller {
    /// The identity of the process at the other end of `stream`, or `None`
    /// when the kernel gives no credentials. Where a system bus is present
    /// this asks systemd for the unit (off the async workers, at most
    /// [`SYSTEMD_TIMEOUT`]).
    pub async fn of_stream(stream: &UnixStream) -> Option<Caller> {
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
        let cgroup_unit = read("cgroup").and_then(|c| unit_from_cgroup(&c));
        let cgroup_named_unit = cgroup_unit.is_some();
        let settled = settle_unit(ask_systemd(pidfd.as_ref(), pid).await, cgroup_unit);
        if let Some(d) = &settled.disagreement {
            // Noteworthy when the cgroup named a unit systemd denies: a
            // cgroup made to look like one.
            if cgroup_named_unit {
                tracing::warn!(pid, uid = cred.uid(), "caller's unit: {d}");
            } else {
                tracing::debug!(pid, uid = cred.uid(), "caller's unit: {d}");
            }
        }
        if let UnitSource::Unanswered(why) = &settled.source {
            // Logged again, as a warning, if a rule naming a unit refuses it.
            tracing::debug!(
                pid,
                uid = cred.uid(),
                "caller's unit unknown, so no rule naming a unit admits it: {why}"
            );
        }
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
            unit: settled.unit,
            unit_source: settled.source,
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
    fn systemd_answer_wins_and_no_answer_leaves_no_unit() {
        let sys = |n: &str| Some(Unit::System(n.into()));
        let user = |uid, n: &str| {
            Some(Unit::User {
                uid,
                name: n.into(),
            })
        };
        // No bus: the cgroup placement stands.
        let s = settle_unit(Answer::NoBus, sys("payments.service"));
        assert_eq!(
            (s.unit, s.source, s.disagreement),
            (sys("payments.service"), UnitSource::Cgroup, None)
        );
        // Agreement.
        let s = settle_unit(
            Answer::Unit("payments.service".into()),
            sys("payments.service"),
        );
        assert_eq!(
            (s.unit, s.source, s.disagreement),
            (sys("payments.service"), UnitSource::Systemd, None)
        );
        // A cgroup made to look like a unit: systemd wins.
        let s = settle_unit(Answer::Unit("-.slice".into()), sys("payments.service"));
        assert_eq!(s.unit, sys("-.slice"));
        assert_eq!(s.source, UnitSource::Systemd);
        assert!(s.disagreement.unwrap().contains("payments.service"));
        // Systemd's answer is a system unit even where the cgroup shows none.
        let s = settle_unit(Answer::Unit("init.scope".into()), None);
        assert_eq!(s.unit, sys("init.scope"));
        // Inside the user manager systemd named, the user unit of that uid.
        let s = settle_unit(
            Answer::Unit("user@1000.service".into()),
            user(1000, "payments.service"),
        );
        assert_eq!(
            (s.unit, s.source),
            (user(1000, "payments.service"), UnitSource::Systemd)
        );
        // ...but not inside another uid's manager, and never a system unit.
        let s = settle_unit(
            Answer::Unit("user@1001.service".into()),
            user(1000, "payments.service"),
        );
        assert_eq!(s.unit, sys("user@1001.service"));
        let s = settle_unit(
            Answer::Unit("payments.service".into()),
            user(1000, "payments.service"),
        );
        assert_eq!(s.unit, sys("payments.service"));
        // Systemd knows no unit for the process.
        let s = settle_unit(Answer::NoUnit, sys("payments.service"));
        assert_eq!((&s.unit, &s.source), (&None, &UnitSource::Systemd));
        assert!(s.disagreement.unwrap().contains("no unit"));
        // Present bus, no answer: no unit, whatever the cgroup says.
        let s = settle_unit(
            Answer::Unanswered("no systemd1".into()),
            sys("payments.service"),
        );
        assert_eq!(
            (s.unit, s.source),
            (None, UnitSource::Unanswered("no systemd1".into()))
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
