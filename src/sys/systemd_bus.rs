//! Asking the system manager, over the system bus, which unit a process
//! belongs to: `org.freedesktop.systemd1.Manager.GetUnitByPIDFD` with the
//! process's pidfd (systemd 253+), else `GetUnitByPID` with its pid followed
//! by the unit's `Id` property, and a check that the pidfd still names a
//! running process (so the pid was not reused while systemd was asked).
//!
//! The calls block (libdbus): run [`ask`] on a blocking thread. Every call
//! has a timeout of [`CALL_TIMEOUT`].

use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use dbus::blocking::Connection;
use dbus::blocking::stdintf::org_freedesktop_dbus::Properties;

/// How long one bus call may take before the question counts as
/// unanswered.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(500);

/// The system bus when `DBUS_SYSTEM_BUS_ADDRESS` is not set.
pub const DEFAULT_SYSTEM_BUS: &str = "/run/dbus/system_bus_socket";

const SYSTEMD: &str = "org.freedesktop.systemd1";
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const UNIT: &str = "org.freedesktop.systemd1.Unit";
const UNKNOWN_METHOD: &str = "org.freedesktop.DBus.Error.UnknownMethod";
const NO_UNIT_FOR_PID: &str = "org.freedesktop.systemd1.NoUnitForPID";

/// What the system manager said about a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// There is no system bus here (no `DBUS_SYSTEM_BUS_ADDRESS` and no
    /// socket at [`DEFAULT_SYSTEM_BUS`]): nobody to ask.
    NoBus,
    /// The unit's name (its `Id`), such as `payments.service`.
    Unit(String),
    /// systemd says the process belongs to no loaded unit
    /// (`org.freedesktop.systemd1.NoUnitForPID`).
    NoUnit,
    /// A system bus is present but the question was not answered; why.
    Unanswered(String),
}

/// The system bus address to use, or `None` when there is no system bus.
/// An address given in `DBUS_SYSTEM_BUS_ADDRESS` counts as present even if
/// nothing listens there (asking it then fails, closed).
pub fn system_bus() -> Option<String> {
    match std::env::var("DBUS_SYSTEM_BUS_ADDRESS") {
        Ok(a) if !a.is_empty() => Some(a),
        _ => std::path::Path::new(DEFAULT_SYSTEM_BUS)
            .exists()
            .then(|| format!("unix:path={DEFAULT_SYSTEM_BUS}")),
    }
}

/// Set once systemd answered `UnknownMethod` to `GetUnitByPIDFD` (older
/// than 253), so later questions go straight to `GetUnitByPID`.
static NO_PIDFD_METHOD: AtomicBool = AtomicBool::new(false);

/// Asks the system manager which unit the process behind `pidfd` (pid
/// `pid` in this process's pid namespace) runs in. Blocks for up to a few
/// [`CALL_TIMEOUT`]s.
pub fn ask(pidfd: &OwnedFd, pid: i32) -> Answer {
    let Some(address) = system_bus() else {
        return Answer::NoBus;
    };
    let conn = match Connection::new_system() {
        Ok(c) => c,
        Err(e) => {
            return Answer::Unanswered(format!(
                "the system bus {address} could not be reached: {}",
                describe(&e)
            ));
        }
    };
    let manager = conn.with_proxy(SYSTEMD, MANAGER_PATH, CALL_TIMEOUT);
    if !NO_PIDFD_METHOD.load(Ordering::Relaxed) {
        let fd = match bus_fd(pidfd) {
            Ok(fd) => fd,
            Err(e) => return Answer::Unanswered(format!("the pidfd could not be copied: {e}")),
        };
        let reply: Result<(dbus::Path, String, Vec<u8>), dbus::Error> =
            manager.method_call(MANAGER, "GetUnitByPIDFD", (fd,));
        match reply {
            Ok((_, id, _)) => return Answer::Unit(id),
            Err(e) if e.name() == Some(NO_UNIT_FOR_PID) => return Answer::NoUnit,
            Err(e) if e.name() == Some(UNKNOWN_METHOD) => {
                NO_PIDFD_METHOD.store(true, Ordering::Relaxed);
            }
            Err(e) => {
                return Answer::Unanswered(format!(
                    "systemd's GetUnitByPIDFD failed: {}",
                    describe(&e)
                ));
            }
        }
    }
    by_pid(&conn, pidfd, pid)
}

/// The fallback for systemd before 253: `GetUnitByPID`, the unit's `Id`,
/// then a check that the pid still names the process.
fn by_pid(conn: &Connection, pidfd: &OwnedFd, pid: i32) -> Answer {
    // GetUnitByPID takes a pid as systemd's pid namespace numbers it; ours
    // names the same process only if systemd is our own PID 1.
    if !pid1_is_systemd() {
        return Answer::Unanswered(
            "systemd is older than 253 (no GetUnitByPIDFD) and is not PID 1 of the daemon's pid \
             namespace, so a pid cannot be passed to it"
                .into(),
        );
    }
    let upid = match pid_for_systemd(pid) {
        Ok(p) => p,
        Err(why) => return Answer::Unanswered(why),
    };
    let manager = conn.with_proxy(SYSTEMD, MANAGER_PATH, CALL_TIMEOUT);
    let reply: Result<(dbus::Path,), dbus::Error> =
        manager.method_call(MANAGER, "GetUnitByPID", (upid,));
    let path = match reply {
        Ok((p,)) => p,
        Err(e) if e.name() == Some(NO_UNIT_FOR_PID) => {
            return if crate::sys::process::pidfd_alive(pidfd) {
                Answer::NoUnit
            } else {
                gone(pid)
            };
        }
        Err(e) => {
            return Answer::Unanswered(format!("systemd's GetUnitByPID failed: {}", describe(&e)));
        }
    };
    let id: String = match conn
        .with_proxy(SYSTEMD, &path, CALL_TIMEOUT)
        .get(UNIT, "Id")
    {
        Ok(id) => id,
        Err(e) => {
            return Answer::Unanswered(format!(
                "the Id of systemd unit {path} could not be read: {}",
                describe(&e)
            ));
        }
    };
    if !crate::sys::process::pidfd_alive(pidfd) {
        return gone(pid);
    }
    Answer::Unit(id)
}

fn gone(pid: i32) -> Answer {
    Answer::Unanswered(format!(
        "process {pid} exited while systemd was asked, so the answer may be about another process"
    ))
}

/// The pid to pass to `GetUnitByPID`. Never 0: systemd reads 0 as "the
/// sender", which would answer with the daemon's own unit; the kernel
/// reports pid 0 for a peer outside the daemon's pid namespace.
pub fn pid_for_systemd(pid: i32) -> Result<u32, String> {
    match u32::try_from(pid) {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!(
            "the caller's pid is {pid}: it runs outside the daemon's pid namespace, and systemd \
             before 253 (no GetUnitByPIDFD) can only be asked by pid"
        )),
    }
}

fn pid1_is_systemd() -> bool {
    std::fs::read_to_string("/proc/1/comm").is_ok_and(|c| c.trim_end() == "systemd")
}

fn describe(e: &dbus::Error) -> String {
    match (e.name(), e.message()) {
        (Some(n), Some(m)) => format!("{n}: {m}"),
        (Some(n), None) => n.to_owned(),
        (None, Some(m)) => m.to_owned(),
        (None, None) => "unknown error".to_owned(),
    }
}

/// A copy of `pidfd` in the form the `dbus` crate sends.
fn bus_fd(pidfd: &OwnedFd) -> std::io::Result<dbus::arg::OwnedFd> {
    let copy = pidfd.try_clone()?;
    debug_assert!(copy.as_raw_fd() >= 0);
    // SAFETY: `into_raw_fd` hands over sole ownership of a freshly
    // duplicated, open descriptor; the dbus wrapper closes it exactly once.
    Ok(unsafe { dbus::arg::OwnedFd::from_raw_fd(copy.into_raw_fd()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_zero_is_never_passed_to_systemd() {
        assert_eq!(pid_for_systemd(42), Ok(42));
        assert!(
            pid_for_systemd(0).is_err(),
            "0 means the sender: the daemon itself"
        );
        assert!(pid_for_systemd(-1).is_err());
    }
}
