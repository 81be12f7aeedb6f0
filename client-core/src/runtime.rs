//! The one way the command-line front end runs async work: a single-threaded runtime (a knock is a few
//! syscalls; one thread starts faster than a pool) whose work is cancelled by Ctrl-C.

use std::future::Future;

use tokio_util::sync::CancellationToken;

/// Runs `work` on a fresh current-thread runtime. The token it receives is cancelled on Ctrl-C (SIGINT),
/// so every knock, resolution and verify stops promptly and reports `Cancelled`.
pub fn block_on_cancellable<F, T>(work: impl FnOnce(CancellationToken) -> F) -> std::io::Result<T>
where
    F: Future<Output = T>,
{
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    Ok(runtime.block_on(async {
        let cancel = CancellationToken::new();
        let on_interrupt = cancel.clone();
        let watcher = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                on_interrupt.cancel();
            }
        });
        let result = work(cancel).await;
        watcher.abort();
        result
    }))
}
