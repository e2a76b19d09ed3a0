//! The process and its peers: hardening, identities (uids, groups,
//! pidfds, mounts), priorities and child processes.

use std::ffi::c_int;
use std::ptr;

/// Process hardening that works unprivileged: not dumpable (no ptrace by
/// other same-uid processes, no core), `RLIMIT_CORE = 0`, and a umask that
/// makes every file and socket we create private by default.
pub fn harden_process() -> std::io::Result<()> {
    let no_core = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls with valid arguments; `no_core` outlives the call.
    unsafe {
        // First, so a failure below still leaves new files private.
        libc::umask(0o077);
        if libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::setrlimit(libc::RLIMIT_CORE, &no_core) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The gid of a group given by name or number, if it exists.
pub fn group_id(name: &str) -> Option<u32> {
    if let Ok(gid) = name.parse::<u32>() {
        return Some(gid);
    }
    let cname = std::ffi::CString::new(name).ok()?;
    let mut grp: libc::group = unsafe_zeroed_group();
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut result: *mut libc::group = ptr::null_mut();
    // SAFETY: every pointer is valid for the call: `cname` is NUL-terminated,
    // `grp` and `result` are live locals, `buf` is a live buffer of the
    // length passed. getgrnam_r writes only into them.
    let rc = unsafe {
        libc::getgrnam_r(
            cname.as_ptr(),
            &mut grp,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    (rc == 0 && !result.is_null()).then_some(grp.gr_gid)
}

fn unsafe_zeroed_group() -> libc::group {
    // SAFETY: `libc::group` is a plain C struct of integers and pointers for
    // which all-zero bytes (null pointers) are a valid value.
    unsafe { std::mem::zeroed() }
}

/// `SO_PEERPIDFD` (Linux 6.5+): the asm-generic value, used by x86-64 and
/// aarch64.
const SO_PEERPIDFD: c_int = 77;

/// A pidfd for the process at the other end of a Unix socket, or `None`
/// where the kernel does not offer one (before 6.5).
pub fn peer_pidfd(socket: &impl std::os::fd::AsRawFd) -> Option<std::os::fd::OwnedFd> {
    let mut fd: c_int = -1;
    let mut len = std::mem::size_of::<c_int>() as libc::socklen_t;
    // SAFETY: `socket` is an open socket for the duration of the call; `fd`
    // and `len` are valid out-parameters of the size we pass.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_PEERPIDFD,
            (&raw mut fd).cast(),
            &mut len,
        )
    };
    if rc != 0 || fd < 0 {
        return None;
    }
    // SAFETY: the kernel returned a new pidfd that nothing else owns.
    Some(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

/// Whether the process behind `pidfd` is still running (so a pid read
/// before this check still named it: a pid is not reused while its process
/// lives).
pub fn pidfd_alive(pidfd: &std::os::fd::OwnedFd) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: signal 0 only checks for existence; the pidfd is open.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            0,
            ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    // EPERM means the process exists but belongs to another uid and we lack
    // CAP_KILL: it is alive. Only ESRCH (exited) means the pid may be reused.
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Lowers the calling thread's scheduling priority (nice +5), so that under
/// CPU saturation the scheduler favours the threads that answer requests.
/// Raising niceness needs no privilege, but a seccomp filter can refuse
/// `setpriority` (systemd's `@resources` group holds it); failure only
/// costs latency, so the caller reports it and goes on.
pub fn lower_current_thread_priority() -> std::io::Result<()> {
    // SAFETY: gettid has no preconditions; setpriority on our own thread id
    // only changes this thread's nice value.
    let rc = unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 5)
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The mount id (`statx` `STATX_MNT_ID`) of the file `path` names,
/// following symlinks (and `/proc/PID/exe`'s magic link): which mount the
/// file was reached through. `None` where the kernel does not report it.
pub fn mount_id(path: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statx is plain data; all-zero is a valid value.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is NUL-terminated and outlives the call; `stx` is a valid
    // out-parameter of the right type.
    let rc = unsafe { libc::statx(libc::AT_FDCWD, c.as_ptr(), 0, libc::STATX_MNT_ID, &mut stx) };
    (rc == 0 && stx.stx_mask & libc::STATX_MNT_ID != 0).then_some(stx.stx_mnt_id)
}

/// The effective uid of this process.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Sends SIGKILL to every process in the process group `pgid` (an `exec`
/// passphrase command and whatever it started). A group that is already
/// gone is fine.
pub fn kill_process_group(pgid: u32) {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return;
    };
    if pgid <= 1 {
        return; // never 0 (our own group) or init's
    }
    // SAFETY: plain syscall; pgid is a positive group id of a child we
    // started with its own process group.
    unsafe {
        libc::killpg(pgid, libc::SIGKILL);
    }
}

/// The effective gid of this process.
pub fn effective_gid() -> u32 {
    // SAFETY: getegid has no preconditions and cannot fail.
    unsafe { libc::getegid() }
}

/// Whether child `pid` has exited, without reaping it (`waitid` with
/// `WNOWAIT`): its pid, and so its process group id, cannot be reused
/// until the caller reaps it, so killing the group stays safe until then.
pub fn child_exited_unreaped(pid: u32) -> std::io::Result<bool> {
    let id = libc::id_t::from(pid);
    // SAFETY: siginfo_t is plain data, zeroed as waitid(2) asks for WNOHANG
    // (si_pid stays 0 when no child changed state).
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to `info`; P_PID with a pid of our own child.
    let rc = unsafe {
        libc::waitid(
            libc::P_PID,
            id,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: after a successful waitid the pid field is initialised.
    Ok(unsafe { info.si_pid() } != 0)
}
