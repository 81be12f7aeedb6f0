//! The background worker: a small tokio runtime that runs knocks and lookups off the UI thread and sends
//! their progress back over a channel, waking the UI (a repaint request) for every message. The UI never
//! blocks on the network, whether DNS hangs or a host is unreachable.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};

use client_core::Diagnosis;
use client_core::Profile;
use client_core::ProfileStore;
use client_core::rotating::DoorKey;
use client_core::spa::{HmacKey, SpaKey};
use client_core::{AddressFamily, CancellationToken};
use client_core::{Plan, ProfileEvent, ProfileReport, run_plan};

use client_core::{KeyOwner, KeyringAvailability as Availability, SecretStore};

/// Identifies one run, so late messages of a superseded run are recognised.
pub type RunId = u64;

/// Why an SPA profile's keys were not stored in the keyring.
#[derive(Debug, thiserror::Error)]
pub enum StoreKeysError {
    #[error(transparent)]
    Store(#[from] client_core::StoreError),
    /// Another profile file has this one's id, so the keyring entry would be theirs too.
    #[error(
        "{name} has the same id as {} (a file copied by hand?), so their keys are one: delete the `id` line \
         of the copy and add the keys again",
        .sharing.join(", ")
    )]
    SharedId { name: String, sharing: Vec<String> },
    #[error(transparent)]
    Keyring(#[from] client_core::SecretError),
}

/// Why a rotating profile's door key could not be read for Reveal.
#[derive(Debug, thiserror::Error)]
pub enum RevealError {
    #[error("${variable}: {source}")]
    Variable {
        variable: String,
        #[source]
        source: client_core::rotating::RotatingError,
    },
    #[error("the keyring's key: {0}")]
    StoredKey(#[source] client_core::rotating::RotatingError),
    #[error(
        "no door key for {name} in the keyring: import its knock+rotating:// line (Import from text…) or set ${variable}"
    )]
    Missing { name: String, variable: String },
    #[error(transparent)]
    Store(#[from] client_core::StoreError),
    #[error(transparent)]
    Keyring(#[from] client_core::SecretError),
}

#[derive(Debug)]
pub enum WorkerMessage {
    Progress {
        name: String,
        run: RunId,
        event: ProfileEvent,
    },
    Finished {
        name: String,
        run: RunId,
        report: Box<ProfileReport>,
    },
    Resolved {
        name: String,
        host: String,
        family: AddressFamily,
        result: Result<SocketAddr, client_core::ResolveError>,
    },
    /// A profile was renamed after a save (its keyring keys moved with it).
    Renamed {
        old: String,
        new: String,
        result: Result<(), client_core::StoreError>,
    },
    Keyring(Availability),
    /// Whether a door's service port still answers after its close sequence.
    ClosedChecked {
        name: String,
        run: RunId,
        address: std::net::SocketAddr,
        state: client_core::PortState,
    },
    /// How Unlock went (the new availability follows).
    Unlocked(Result<(), client_core::SecretError>),
    /// A profile was deleted (file and keyring secrets); `Ok(Some(error))` when its secrets could not be
    /// forgotten.
    Deleted {
        name: String,
        result: Result<Option<client_core::SecretError>, client_core::StoreError>,
    },
    SecretsStored {
        name: String,
        result: Result<(), StoreKeysError>,
    },
    /// A rotating profile's door key, read to reveal its current ports (kept in memory only).
    RotatingKey {
        name: String,
        result: Result<DoorKey, RevealError>,
    },
    /// A `knock+rotating://` import: the key went to the keyring, then the profile was created.
    RotatingImported {
        name: String,
        result: Result<(), client_core::UriImportError>,
    },
    /// A Diagnose finished (or could not start).
    Diagnosed {
        name: String,
        run: RunId,
        result: Result<Diagnosis, client_core::ProfileError>,
    },
    /// The store's fingerprint (names, sizes, modification times of its files).
    Fingerprint(u64),
    /// A native file dialog was answered: the path, or None when the user cancelled.
    Picked {
        pick: crate::app::Pick,
        path: Option<std::path::PathBuf>,
    },
    /// An encrypted backup decrypted into an import preview (or why not).
    BackupPreviewed {
        path: std::path::PathBuf,
        result: Result<crate::transfer::Preview, crate::transfer::PreviewError>,
    },
    /// Export with keys: the encrypted file written (or why not); `count` profiles.
    BackupWritten {
        count: usize,
        result: Result<std::path::PathBuf, crate::transfer::ExportError>,
    },
    /// An import was written (client-core's import: the profiles, their keys to the keyring).
    Imported(crate::transfer::Applied),
    /// A desktop notification was handed to the desktop (or could not be).
    Notified {
        note: crate::app::DesktopNote,
        result: Result<(), crate::notify::NotifyError>,
    },
}

/// How long a lookup for the detail view may take.
const RESOLVE_TIMEOUT_S: u64 = 10;

/// Called after each message is queued; the app passes `egui::Context::request_repaint`.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

pub struct Worker {
    /// Where work is spawned.
    handle: tokio::runtime::Handle,
    /// The runtime itself: taken only by `Drop`, which shuts it down without waiting for lookups.
    runtime: Option<tokio::runtime::Runtime>,
    /// The blocking jobs of [`Worker::spawn_blocking`] (profile and keyring writes) not finished yet.
    writes_in_flight: Arc<AtomicUsize>,
    sender: Sender<WorkerMessage>,
    receiver: Receiver<WorkerMessage>,
    waker: Waker,
    next_run: RunId,
}

impl Worker {
    pub fn new() -> std::io::Result<Worker> {
        // Knocks are syscalls and timers: two threads keep several at once responsive.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("knock-worker")
            .enable_all()
            .build()?;
        let (sender, receiver) = channel();
        Ok(Worker {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
            writes_in_flight: Arc::new(AtomicUsize::new(0)),
            sender,
            receiver,
            waker: Arc::new(|| {}),
            next_run: 1,
        })
    }

    /// Runs a blocking job (a profile file or keyring write, a keyring probe) on the runtime's blocking
    /// threads, counted so that quitting waits for it (see `Drop`).
    fn spawn_blocking(&self, job: impl FnOnce() + Send + 'static) {
        let in_flight = Arc::clone(&self.writes_in_flight);
        in_flight.fetch_add(1, Ordering::SeqCst);
        self.handle.spawn_blocking(move || {
            job();
            in_flight.fetch_sub(1, Ordering::SeqCst);
        });
    }

    pub fn set_waker(&mut self, waker: Waker) {
        self.waker = waker;
    }

    /// Starts a knock; progress and the final report arrive through [`Worker::drain`].
    pub fn knock(&mut self, plan: Plan, cancel: CancellationToken) -> RunId {
        let run = self.next_run;
        self.next_run += 1;
        let (sender, waker) = (self.sender.clone(), Arc::clone(&self.waker));
        self.handle.spawn(async move {
            let name = plan.name.clone();
            let report = run_plan(&plan, &cancel, |event| {
                let _ = sender.send(WorkerMessage::Progress { name: name.clone(), run, event: event.clone() });
                waker();
            })
            .await;
            let _ = sender.send(WorkerMessage::Finished { name, run, report: Box::new(report) });
            waker();
        });
        run
    }

    /// Resolves a host in the background (for the detail view).
    pub fn resolve(&self, name: String, host: String, family: AddressFamily) {
        let (sender, waker) = (self.sender.clone(), Arc::clone(&self.waker));
        self.handle.spawn(async move {
            let lookup = tokio::time::timeout(
                std::time::Duration::from_secs(RESOLVE_TIMEOUT_S),
                client_core::resolve(&host, family),
            );
            let result = match lookup.await {
                Ok(result) => result,
                Err(_) => Err(client_core::ResolveError::TimedOut { host: host.clone(), seconds: RESOLVE_TIMEOUT_S }),
            };
            let _ = sender.send(WorkerMessage::Resolved { name, host, family, result });
            waker();
        });
    }

    /// Probes the OS keyring (a D-Bus round trip on Linux, so never on the UI thread).
    pub fn check_keyring(&self, secrets: SecretStore) {
        let (sender, waker) = (self.sender.clone(), Arc::clone(&self.waker));
        self.spawn_blocking(move || {
            let _ = sender.send(WorkerMessage::Keyring(secrets.availability()));
            waker();
        });
    }

    /// After a close sequence: waits `settle` (the server runs its close command), then checks once,
    /// within `budget`, whether the service port still answers.
    pub fn check_closed(
        &self,
        name: String,
        run: RunId,
        address: std::net::SocketAddr,
        settle: std::time::Duration,
        budget: std::time::Duration,
    ) {
        let (sender, waker) = (self.sender.clone(), Arc::clone(&self.waker));
        self.handle.spawn(async move {
            tokio::time::sleep(settle).await;
            let state = client_core::probe_port(address, None, budget).await;
            let _ = sender.send(WorkerMessage::ClosedChecked { name, run, address, state });
            waker();
        });
    }

    /// Unlock: asks the OS to unlock the keyring (its own prompt), then probes it again.
    pub fn unlock_keyring(&self, secrets: SecretStore) {
        let (sender, waker) = (self.sender.clone(), Arc::clone(&self.waker));
        self.spawn_blocking(move || {
            let result = secrets.unlock();
            let _ = sender.send(WorkerMessage::Unlocked(result));
            let _ = sender.send(WorkerMessage::Keyring(secrets.availability()));
            waker();
        });
    }

    /// Stores an SPA profile's keys in the keyring, under the profile's id (a profile written before ids
    /// is migrated first).
    pub fn store_spa_keys(
        &self,
        store: ProfileStore,
        secrets: SecretStore,
        name: String,
        key: SpaKey,
        hmac_key: HmacKey,
    ) {
        let (sender, waker) = (self.sender.clone(), Arc::clone(&self.waker));
        self.spawn_blocking(move || {
            let result = store_keys(&store, &secrets, &name, &key, &hmac_key);
            let _ = sender.send(WorkerMessage::SecretsStored { name, result });
            waker();
        });
    }

    /// Deletes a profile and forgets its keyring secrets (the keyring is a blocking round trip, so not on
    /// the UI thread), whatever the app knows about the keyring yet.
    pub fn delete_profile(&self, store: ProfileStore, secrets: SecretStore, name: String) {
        let (sender, waker) = (self.sender.clone(), Arc::clone(&self.waker));
        self.spawn_blocking(move || {
            let result = store.remove(&name, &secrets).map(|(_, forgotten)| forgotten);
            let _ = sender.send(WorkerMessage::Deleted { name, result });
            waker();
        });
    }

    /// Renames a profile; its keyring secrets follow it (they are keyed by its id; one written before ids
    /// is migrated first, a blocking keyring round trip). `keys` (from the editor that renamed it) are
    /// stored afterwards, under the renamed profile.
    pub fn rename_profile(
        &self,
        store: ProfileStore,
        secrets: SecretStore,
        old: String,
        new: String,
        keys: Option<(SpaKey, HmacKey)>,
    ) {
        let (sender, waker) = (self.sender.clone(), Arc::clone(&self.waker));
        self.spawn_blocking(move || {
            let result = store.rename(&old, &new, &secrets).map(drop);
            let renamed = result.is_ok();
            let _ = sender.send(WorkerMessage::Renamed { old: old.clone(), new: new.clone(), result });
            if let Some((key, hmac_key)) = keys {
                let name = if renamed { new } else { old };
                let result = store_keys(&store, &secrets, &name, &key, &hmac_key);
                let _ = sender.send(WorkerMessage::SecretsStored { name, result });
            }
            waker();
        });
    }

    /// Runs `knock-cli doctor`'s checks on a profile (it knocks at most once); cancellable.
    pub fn diagnose(&mut self, name: String, profile: Profile, cancel: CancellationToken) -> RunId {
        let run = self.next_run;
        self.next_run += 1;
        let (sender, waker) = (self.sender.clone(), Arc::clone(&self.waker));
        self.handle.spawn(async move {
            let result = client_core::diagnose(&name, &profile, &cancel).await;
            let _ = sender.send(WorkerMessage::Diagnosed { name, run, result });
            waker();
        });
        run
    }

    /// Reads a rotating profile's door key: the environment (`KNOCK_ROTATING_KEY[_NAME]`, as knocking
    /// does) first, else this app's keyring service.
    pub fn read_rotating_key(&self, store: ProfileStore, secrets: SecretStore, name: String) {
        let (sender, waker) = (self.sender.clone(), Arc::clone(&self.waker));
        self.spawn_blocking(move || {
            let from_env = client_core::rotating_key_variables(&name)
                .iter()
                .find_map(|var| std::env::var(var).ok().map(|value| (var.clone(), zeroize::Zeroizing::new(value))));
            let result = match from_env {
                Some((variable, value)) => {
                    DoorKey::from_base32(&value).map_err(|source| RevealError::Variable { variable, source })
                }
                None => stored_door_key(&store, &secrets, &name),
            };
            let _ = sender.send(WorkerMessage::RotatingKey { name, result });
            waker();
        });
    }

    /// Writes a checked provisioning URI off the UI thread (client-core's `UriImport`: the key into the
    /// keyring first, then the profile file, as `knock-cli profile import-uri`).
    pub fn import_rotating(&self, store: ProfileStore, secrets: SecretStore, import: client_core::UriImport) {
        let (sender, waker) = (self.sender.clone(), Arc::clone(&self.waker));
        self.spawn_blocking(move || {
            let name = import.name.clone();
            let result = import.write(&store, &secrets).map(drop);
            let _ = sender.send(WorkerMessage::RotatingImported { name, result });
            waker();
        });
    }

    /// Computes the store's fingerprint (a directory read and a stat per file) off the UI thread. The
    /// window is woken only when it differs from `known` (an idle app draws no extra frame for a
    /// re-scan that found nothing; the answer waits for the next frame).
    pub fn fingerprint(&self, store: ProfileStore, known: u64) {
        let (sender, waker) = (self.sender.clone(), Arc::clone(&self.waker));
        self.spawn_blocking(move || {
            let fingerprint = store.fingerprint();
            let _ = sender.send(WorkerMessage::Fingerprint(fingerprint));
            if fingerprint != known {
                waker();
            }
        });
    }

    /// Shows a desktop notification (a D-Bus round trip on Linux, so never on the UI thread).
    pub fn notify(&self, note: crate::app::DesktopNote) {
        let (sender, waker) = (self.sender.clone(), Arc::clone(&self.waker));
        self.spawn_blocking(move || {
            let result = crate::notify::show(&note);
            let _ = sender.send(WorkerMessage::Notified { note, result });
            waker();
        });
    }

    /// An encrypted backup's preview, off the UI thread: scrypt takes about a second.
    pub fn preview_backup(&self, path: std::path::PathBuf, passphrase: client_core::Secret) {
        let (sender, waker) = (self.sender.clone(), Arc::clone(&self.waker));
        self.spawn_blocking(move || {
            let result = crate::transfer::preview_backup(&path, &passphrase);
            let _ = sender.send(WorkerMessage::BackupPreviewed { path, result });
            waker();
        });
    }

    /// Export with keys, off the UI thread: the keyring is read and scrypt takes about a second.
    pub fn export_backup(
        &self,
        store: ProfileStore,
        secrets: SecretStore,
        names: Vec<String>,
        dir: std::path::PathBuf,
        passphrase: crate::transfer::Passphrase,
        confirm: crate::transfer::Passphrase,
    ) {
        let (sender, waker) = (self.sender.clone(), Arc::clone(&self.waker));
        self.spawn_blocking(move || {
            let result = crate::transfer::export_backup(&store, &secrets, &names, &dir, &passphrase, &confirm);
            let _ = sender.send(WorkerMessage::BackupWritten { count: names.len(), result });
            waker();
        });
    }

    /// Writes an import's previewed profiles and their keys (the keyring is a blocking round trip).
    pub fn import(&self, store: ProfileStore, secrets: SecretStore, preview: crate::transfer::Preview) {
        let (sender, waker) = (self.sender.clone(), Arc::clone(&self.waker));
        self.spawn_blocking(move || {
            let applied = crate::transfer::write_import(&store, &secrets, &preview);
            let _ = sender.send(WorkerMessage::Imported(applied));
            waker();
        });
    }

    /// Awaits a native file dialog already shown (see [`crate::pick`]) and reports its answer.
    pub fn await_pick(
        &self,
        pick: crate::app::Pick,
        dialog: impl std::future::Future<Output = Option<std::path::PathBuf>> + Send + 'static,
    ) {
        let (sender, waker) = (self.sender.clone(), Arc::clone(&self.waker));
        self.handle.spawn(async move {
            let path = dialog.await;
            let _ = sender.send(WorkerMessage::Picked { pick, path });
            waker();
        });
    }

    /// Every message that arrived since the last call.
    pub fn drain(&self) -> Vec<WorkerMessage> {
        self.receiver.try_iter().collect()
    }
}

/// How long quitting waits for profile and keyring writes still running (a keyring may be showing its
/// own unlock prompt); what is still running then is said on stderr.
const WRITES_AT_EXIT: std::time::Duration = std::time::Duration::from_secs(10);

impl Drop for Worker {
    /// Quitting waits for the writes the user asked for (a saved profile, stored keys), never for a knock
    /// or a lookup: a hanging DNS lookup would otherwise keep the process alive for the resolver's whole
    /// timeout after the window closed (dropping a runtime waits for every blocking thread).
    fn drop(&mut self) {
        let deadline = std::time::Instant::now() + WRITES_AT_EXIT;
        while self.writes_in_flight.load(Ordering::SeqCst) > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let left = self.writes_in_flight.load(Ordering::SeqCst);
        if left > 0 {
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!("knock-gui: quit with {left} profile or keyring write(s) still running\n").as_bytes(),
            );
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// An SPA profile's keys into the keyring under its id (a profile written before ids is migrated first).
fn store_keys(
    store: &ProfileStore,
    secrets: &SecretStore,
    name: &str,
    key: &SpaKey,
    hmac_key: &HmacKey,
) -> Result<(), StoreKeysError> {
    let stored = store.load_for_keys(name, secrets)?;
    let sharing = store.sharing_id(name, &stored.profile)?;
    if !sharing.is_empty() {
        return Err(StoreKeysError::SharedId { name: name.to_owned(), sharing });
    }
    Ok(secrets.store_spa_keys(&KeyOwner::of(name, &stored.profile), key, hmac_key)?)
}

/// A rotating profile's door key from this app's keyring service (blocking).
fn stored_door_key(store: &ProfileStore, secrets: &SecretStore, name: &str) -> Result<DoorKey, RevealError> {
    let stored = store.load_for_keys(name, secrets)?;
    let owner = KeyOwner::of(name, &stored.profile);
    match secrets.get(&owner, client_core::SecretKind::RotatingKey)? {
        Some(secret) => DoorKey::from_base32(secret.expose()).map_err(RevealError::StoredKey),
        None => {
            let [variable, _] = client_core::rotating_key_variables(name);
            Err(RevealError::Missing { name: name.to_owned(), variable })
        }
    }
}
