//! Where CPU-heavy work runs: RSA operations and key-derivation functions
//! never run on the async worker threads, so a burst of PS256 signing cannot
//! delay health checks or other callers.
//!
//! Work goes to tokio's blocking pool, at most two jobs per core at a time:
//! enough that a core never idles while the next job is handed over (each
//! job releases its slot the moment it ends, on its own thread), few enough
//! to bound threads and memory.
//! Threads that run such work drop to nice +5, so when RSA saturates every
//! core the scheduler still gives the async workers (health checks, ECDSA,
//! every other caller) the CPU first.
//!
//! Where the caller cannot await (rustls asks a signer for the mTLS
//! handshake signature synchronously, on the connection's task),
//! [`block_here`] tells the runtime that this worker is about to block, so
//! it hands the worker's other tasks to a fresh one first.

use std::sync::OnceLock;

use tokio::sync::Semaphore;

fn permits() -> &'static Semaphore {
    static SEM: OnceLock<Semaphore> = OnceLock::new();
    SEM.get_or_init(|| {
        let n = std::thread::available_parallelism().map_or(2, usize::from);
        Semaphore::new(2 * n)
    })
}

/// Runs `f` on a blocking thread, at most two jobs per core at once.
pub async fn run<T, F>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // The semaphore is never closed, so acquiring cannot fail.
    let permit = permits().acquire().await;
    let job = move || {
        // Released here, not when the awaiting task resumes.
        let _permit = permit;
        thread_local!(static LOWERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
        if !LOWERED.get() {
            lower_priority();
            LOWERED.set(true);
        }
        f()
    };
    match tokio::task::spawn_blocking(job).await {
        Ok(v) => v,
        // The closure panicked: propagate the panic rather than invent a value.
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// Drops the calling crypto thread to nice +5, saying so once per thread
/// at debug level; a refusal is warned about once per process, since it
/// repeats on every new thread and means the same thing each time.
fn lower_priority() {
    match crate::sys::process::lower_current_thread_priority() {
        Ok(()) => tracing::debug!("crypto thread lowered to nice +5"),
        Err(e) => {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                tracing::warn!(
                    error = %e,
                    "cannot lower the crypto threads' priority to nice +5 (setpriority \
                     refused): under full CPU load RSA work competes with health checks and \
                     other callers on equal terms; under systemd, a SystemCallFilter that \
                     denies @resources needs SystemCallFilter=setpriority after it, as the \
                     shipped unit has"
                );
            });
        }
    }
}

/// Runs `f` on this thread, which may be an async worker that cannot
/// await (a synchronous callback such as rustls' signer): on tokio's
/// multi-thread runtime the worker's other tasks move to another worker
/// first ([`tokio::task::block_in_place`]), so a slow token or an RSA
/// signature never stalls them. Elsewhere (a plain or blocking thread, a
/// current-thread runtime, where `block_in_place` would panic) `f` just
/// runs.
pub fn block_here<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// With one worker, a task blocked in `block_here` until another task
    /// runs would wait forever if the worker were not handed over.
    #[test]
    fn a_blocked_worker_hands_its_tasks_over() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        rt.block_on(async {
            let (tx, rx) = mpsc::channel();
            let (started_tx, started_rx) = tokio::sync::oneshot::channel();
            let blocked = tokio::spawn(async move {
                started_tx.send(()).unwrap();
                block_here(|| rx.recv_timeout(Duration::from_secs(60)))
            });
            started_rx.await.unwrap();
            // Spawned while `blocked` occupies the only worker: it runs
            // only if that worker was handed over.
            tokio::spawn(async move { tx.send(()).unwrap() });
            assert_eq!(blocked.await.unwrap(), Ok(()));
        });
    }

    #[test]
    fn outside_a_runtime_it_just_runs() {
        assert_eq!(block_here(|| 7), 7);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(async { block_here(|| 8) }), 8);
    }
}
