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
            crate::sys::process::lower_current_thread_priority();
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
