//! systemd integration: socket activation and the notify protocol.
//!
//! With `fapi-agent.socket`, systemd (or `systemd-socket-activate`) binds
//! the socket and hands the listening fd over (`LISTEN_FDS`); the daemon
//! serves on it and leaves the socket file to systemd. With `Type=notify`
//! the daemon says `READY=1` once it accepts, `RELOADING=1`/`READY=1`
//! around reloads, `STOPPING=1` at shutdown, `STATUS=` lines for
//! `systemctl status`, and pings the watchdog at half of `WatchdogSec=`
//! from the async runtime, so a wedged runtime gets the service restarted.
//! Outside systemd every call here is a no-op.

use std::time::Duration;

use sd_notify::NotifyState;

/// The listening Unix socket systemd passed, if any. Must run before any
/// thread starts (it reads and clears `LISTEN_*`).
pub fn inherited_listener() -> std::io::Result<Option<std::os::unix::net::UnixListener>> {
    let mut fds = listenfd::ListenFd::from_env();
    if fds.len() == 0 {
        return Ok(None);
    }
    if fds.len() > 1 {
        tracing::warn!(
            count = fds.len(),
            "systemd passed several sockets; serving on the first"
        );
    }
    let listener = fds.take_unix_listener(0)?;
    if let Some(l) = &listener {
        // tokio requires a non-blocking socket.
        l.set_nonblocking(true)?;
    }
    Ok(listener)
}

fn notify(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!(error = %e, "sd_notify failed");
    }
}

/// `READY=1` with a status line.
pub fn ready(status: &str) {
    notify(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// `RELOADING=1` (with the monotonic timestamp `Type=notify-reload` wants).
pub fn reloading() {
    let mut states = vec![NotifyState::Reloading];
    if let Ok(ts) = NotifyState::monotonic_usec_now() {
        states.push(ts);
    }
    notify(&states);
}

/// `STOPPING=1`.
pub fn stopping() {
    notify(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// A `STATUS=` line.
pub fn status(line: &str) {
    notify(&[NotifyState::Status(line)]);
}

/// Pings the watchdog from the runtime at half the interval systemd asked
/// for (`WATCHDOG_USEC`), if it asked.
pub fn spawn_watchdog() {
    let Some(interval) = sd_notify::watchdog_enabled() else {
        return;
    };
    let every = (interval / 2).max(Duration::from_millis(10));
    tracing::info!(
        interval_ms = every.as_millis() as u64,
        "systemd watchdog enabled"
    );
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            notify(&[NotifyState::Watchdog]);
        }
    });
}
