//! The background worker: a small tokio runtime that runs knocks and lookups off the UI thread and sends
//! their progress back over a channel, waking the UI (a repaint request) for every message. The UI never
//! blocks on the network, whether DNS hangs or a host is unreachable.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use client_core::doctor::Diagnosis;
use client_core::open::{Plan, ProfileEvent, ProfileReport, run_plan};
use client_core::profile::Profile;
use client_core::rotating::DoorKey;
use client_core::spa::{HmacKey, SpaKey};
use client_core::store::ProfileStore;
use client_core::{AddressFamily, CancellationToken};

use crate::secrets::{Availability, KeyOwner, SecretStore};

/// Identifies one run, so late messages of a superseded run are recognised.
pub type RunId = u64;

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
        result: Result<SocketAddr, String>,
    },
    /// A profile was renamed after a save (its keyring keys moved with it).
    Renamed {
        old: String,
        new: String,
        result: Result<(), String>,
    },
    Keyring(Availability),
    /// A profile was deleted (file and keyring secrets); `Ok(Some(warning))` when its secrets could not be
    /// forgotten.
    Deleted {
        name: String,
        result: Result<Option<String>, String>,
    },
    SecretsStored {
        name: String,
        result: Result<(), String>,
    },
    /// A rotating profile's door key, read to reveal its current ports (kept in memory only).
    RotatingKey {
        name: String,
        result: Result<DoorKey, String>,
    },
    /// A `knock+rotating://` import: the key went to the keyring, then the profile was created.
    RotatingImported {
        name: String,
        result: Result<(), String>,
    },
    /// A Diagnose finished (or could not start).
    Diagnosed {
        name: String,
        run: RunId,
        result: Result<Diagnosis, String>,
    },
    /// The store's fingerprint (names, sizes, modification times of its files).
    Fingerprint(u64),
    /// A desktop notification was handed to the desktop (or could not be).
    Notified {
        note: crate::app::DesktopNote,
        result: Result<(), crate::notify::NotifyError>,
    },
}

/// Called after each message is queued; the app passes `egui::Context::request_repaint`.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

pub struct Worker {
    runtime: tokio::runtime::Runtime,
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
        Ok(Worker { runtime, sender, receiver, waker: Arc::new(|| {}), next_run: 1 })
    }

    pub fn set_waker(&mut self, waker: Waker) {
        self.waker = waker;
    }

    /// Starts a knock; progress and the final report arrive through [`Worker::drain`].
    pub fn knock(&mut self, plan: Plan, cancel: CancellationToken) -> RunId {
        let run = self.next_run;
        self.next_run += 1;
        let (sender, waker) = (self.sender.clone(), Arc::clone(&self.waker));
        self.runtime.spawn(async move {
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
        self.runtime.spawn(async move {
            let lookup = tokio::time::timeout(std::time::Duration::from_secs(10), client_core::resolve(&host, family));
            let result = match lookup.await {
                Ok(Ok(address)) => Ok(address),
                Ok(Err(err)) => Err(err.to_string()),
                Err(_) => Err(format!("{host:?} did not resolve within 10 s")),
            };
            let _ = sender.send(WorkerMessage::Resolved { name, host, family, result });
            waker();
        });
    }

    /// Probes the OS keyring (a D-Bus round trip on Linux, so never on the UI thread).
    pub fn check_keyring(&self, secrets: SecretStore) {
        let (sender, waker) = (self.sender.clone(), Arc::clone(&self.waker));
        self.runtime.spawn_blocking(move || {
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
        self.runtime.spawn_blocking(move || {
            let result = store_keys(&store, &secrets, &name, &key, &hmac_key);
            let _ = sender.send(WorkerMessage::SecretsStored { name, result });
            waker();
        });
    }

    /// Deletes a profile and forgets its keyring secrets (the keyring is a blocking round trip, so not on
    /// the UI thread), whatever the app knows about the keyring yet.
    pub fn delete_profile(&self, store: ProfileStore, secrets: SecretStore, name: String) {
        let (sender, waker) = (self.sender.clone(), Arc::clone(&self.waker));
        self.runtime.spawn_blocking(move || {
            let result = store
                .remove(&name, &secrets)
                .map(|(_, forgotten)| forgotten.map(|e| e.to_string()))
                .map_err(|e| e.to_string());
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
        self.runtime.spawn_blocking(move || {
            let result = store.rename(&old, &new, &secrets).map(drop).map_err(|e| e.to_string());
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
        self.runtime.spawn(async move {
            let result = client_core::doctor::diagnose(&name, &profile, &cancel).await.map_err(|e| e.to_string());
            let _ = sender.send(WorkerMessage::Diagnosed { name, run, result });
            waker();
        });
        run
    }

    /// Reads a rotating profile's door key: the environment (`KNOCK_ROTATING_KEY[_NAME]`, as knocking
    /// does) first, else this app's keyring service.
    pub fn read_rotating_key(&self, store: ProfileStore, secrets: SecretStore, name: String) {
        let (sender, waker) = (self.sender.clone(), Arc::clone(&self.waker));
        self.runtime.spawn_blocking(move || {
            let from_env = client_core::secrets::rotating_key_variables(&name)
                .iter()
                .find_map(|var| std::env::var(var).ok().map(|value| (var.clone(), zeroize::Zeroizing::new(value))));
            let result = match from_env {
                Some((var, value)) => DoorKey::from_base32(&value).map_err(|e| format!("${var}: {e}")),
                None => match store.load_for_keys(&name, &secrets).map_err(|e| e.to_string()).and_then(|stored| {
                    let owner = KeyOwner::of(&name, &stored.profile);
                    secrets.get(&owner, client_core::secrets::SecretKind::RotatingKey).map_err(|e| e.to_string())
                }) {
                    Ok(Some(secret)) => {
                        DoorKey::from_base32(secret.expose()).map_err(|e| format!("the keyring's key: {e}"))
                    }
                    Ok(None) => {
                        let [var, _] = client_core::secrets::rotating_key_variables(&name);
                        Err(format!(
                            "no door key for {name} in the keyring (knock-cli profile set-key {name}) or ${var}"
                        ))
                    }
                    Err(err) => Err(err),
                },
            };
            let _ = sender.send(WorkerMessage::RotatingKey { name, result });
            waker();
        });
    }

    /// Writes a checked provisioning URI off the UI thread (client-core's `UriImport`: the key into the
    /// keyring first, then the profile file, as `knock-cli profile import-uri`).
    pub fn import_rotating(&self, store: ProfileStore, secrets: SecretStore, import: client_core::import::UriImport) {
        let (sender, waker) = (self.sender.clone(), Arc::clone(&self.waker));
        self.runtime.spawn_blocking(move || {
            let name = import.name.clone();
            let result = match import.write(&store, &secrets) {
                Ok(_) => Ok(()),
                Err(err @ client_core::import::UriImportError::Exists(_)) => Err(format!("{err} (give another name)")),
                Err(err) => Err(err.to_string()),
            };
            let _ = sender.send(WorkerMessage::RotatingImported { name, result });
            waker();
        });
    }

    /// Computes the store's fingerprint (a directory read and a stat per file) off the UI thread. The
    /// window is woken only when it differs from `known` (an idle app draws no extra frame for a
    /// re-scan that found nothing; the answer waits for the next frame).
    pub fn fingerprint(&self, store: ProfileStore, known: u64) {
        let (sender, waker) = (self.sender.clone(), Arc::clone(&self.waker));
        self.runtime.spawn_blocking(move || {
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
        self.runtime.spawn_blocking(move || {
            let result = crate::notify::show(&note);
            let _ = sender.send(WorkerMessage::Notified { note, result });
            waker();
        });
    }

    /// Every message that arrived since the last call.
    pub fn drain(&self) -> Vec<WorkerMessage> {
        self.receiver.try_iter().collect()
    }
}

/// An SPA profile's keys into the keyring under its id (a profile written before ids is migrated first).
fn store_keys(
    store: &ProfileStore,
    secrets: &SecretStore,
    name: &str,
    key: &SpaKey,
    hmac_key: &HmacKey,
) -> Result<(), String> {
    let stored = store.load_for_keys(name, secrets).map_err(|e| e.to_string())?;
    let sharing = store.sharing_id(name, &stored.profile).map_err(|e| e.to_string())?;
    if !sharing.is_empty() {
        return Err(format!(
            "{name} has the same id as {} (a file copied by hand?), so their keys are one: delete the `id` line \
             of the copy and add the keys again",
            sharing.join(", ")
        ));
    }
    secrets.store_spa_keys(&KeyOwner::of(name, &stored.profile), key, hmac_key).map_err(|e| e.to_string())
}
