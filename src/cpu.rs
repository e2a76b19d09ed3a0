//! Where CPU-heavy work runs: RSA operations and key-derivation functions
//! never run on the async worker threads, so a burst of PS256 signing cannot
//! delay health checks or other callers.
//!
//! Work goes to tokio's blocking pool, but at most one job per core at a
//! time: more would only add threads and context switches, not throughput.

use std::sync::OnceLock;

use tokio::sync::Semaphore;

fn permits() -> &'static Semaphore {
    static SEM: OnceLock<Semaphore> = OnceLock::new();
    SEM.get_or_init(|| {
        let n = std::thread::available_parallelism().map_or(2, usize::from);
        Semaphore::new(n)
    })
}

/// Runs `f` on a blocking thread, at most one job per core at once.
pub async fn run<T, F>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // The semaphore is never closed, so acquiring cannot fail.
    let _permit = permits().acquire().await;
    match tokio::task::spawn_blocking(f).await {
        Ok(v) => v,
        // The closure panicked: propagate the panic rather than invent a value.
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}
