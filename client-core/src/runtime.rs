//! The one way the command-line front end runs async work: a single-threaded runtime (a knock is a few
//! syscalls; one thread starts faster than a pool) whose work is cancelled by Ctrl-C (SIGINT) or, on
//! Unix, SIGTERM (a CI job cancelled, `timeout`, systemd), so a report is still completed.

use std::future::Future;
use std::sync::atomic::{AtomicU8, Ordering};

use tokio_util::sync::CancellationToken;

/// The signal that cancelled the work of [`block_on_cancellable`], for the exit status (130 or 143).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelSignal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
}

const NONE: u8 = 0;
const INTERRUPT: u8 = 1;
const TERMINATE: u8 = 2;

/// The first signal that cancelled work in this process (kept for the process: one run, one status).
static CANCELLED_BY: AtomicU8 = AtomicU8::new(NONE);

/// Which signal cancelled work run by [`block_on_cancellable`] in this process, if any did.
pub fn cancelled_by() -> Option<CancelSignal> {
    match CANCELLED_BY.load(Ordering::SeqCst) {
        INTERRUPT => Some(CancelSignal::Interrupt),
        TERMINATE => Some(CancelSignal::Terminate),
        _ => None,
    }
}

/// Runs `work` on a fresh current-thread runtime. The token it receives is cancelled on Ctrl-C (SIGINT)
/// or SIGTERM, so every knock, resolution and verify stops promptly (nothing more is sent) and reports
/// `Cancelled`; [`cancelled_by`] then tells which signal it was.
pub fn block_on_cancellable<F, T>(work: impl FnOnce(CancellationToken) -> F) -> std::io::Result<T>
where
    F: Future<Output = T>,
{
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let result = runtime.block_on(async {
        let cancel = CancellationToken::new();
        let on_signal = cancel.clone();
        let watcher = tokio::spawn(async move {
            if let Some(signal) = next_signal().await {
                let code = match signal {
                    CancelSignal::Interrupt => INTERRUPT,
                    CancelSignal::Terminate => TERMINATE,
                };
                let _ = CANCELLED_BY.compare_exchange(NONE, code, Ordering::SeqCst, Ordering::SeqCst);
                on_signal.cancel();
            }
        });
        let result = work(cancel).await;
        watcher.abort();
        result
    });
    // Not the default drop, which waits for every blocking thread: a read of stdin (a proxy's relay) or a
    // keyring call still blocked after cancellation would keep the process alive.
    runtime.shutdown_background();
    Ok(result)
}

/// The next SIGINT or SIGTERM (None if no handler could be installed).
#[cfg(unix)]
async fn next_signal() -> Option<CancelSignal> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).ok();
    let terminated = async {
        match terminate.as_mut() {
            Some(terminate) => terminate.recv().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        interrupted = tokio::signal::ctrl_c() => interrupted.ok().map(|()| CancelSignal::Interrupt),
        _ = terminated => Some(CancelSignal::Terminate),
    }
}

#[cfg(not(unix))]
async fn next_signal() -> Option<CancelSignal> {
    tokio::signal::ctrl_c().await.ok().map(|()| CancelSignal::Interrupt)
}
