//! What the worker reported (knock progress, lookups, keyring answers, files written), applied to the
//! state once per frame by [`AppState::poll`], each to the concern it belongs to.

use super::AppState;
use super::notices::Notice;
use crate::worker::WorkerMessage;

impl AppState {
    /// Applies what the worker reported; true if anything changed.
    pub fn poll(&mut self) -> bool {
        let messages = self.worker.drain();
        let changed = !messages.is_empty();
        for message in messages {
            match message {
                WorkerMessage::Progress { name, run, event } => self.runs.on_progress(&name, run, &event),
                WorkerMessage::Finished { name, run, report } => self.on_finished(&name, run, &report),
                WorkerMessage::Resolved { name, host, family, result } => self.on_resolved(name, host, family, result),
                WorkerMessage::Renamed { old, new, result } => self.on_renamed(old, new, result),
                WorkerMessage::Keyring(availability) => self.system.keyring = Some(availability),
                WorkerMessage::ClosedChecked { name, run, address, state } => {
                    self.on_closed_checked(&name, run, address, &state);
                }
                WorkerMessage::Unlocked(Ok(())) => {
                    self.notices.current = Some(Notice::Info("keyring unlocked".to_owned()));
                }
                WorkerMessage::Unlocked(Err(err)) => {
                    self.notices.current = Some(Notice::Error(format!("the keyring is still locked: {err}")));
                }
                WorkerMessage::Deleted { name, result } => self.on_deleted(name, result),
                WorkerMessage::Notified { note, result } => self.notices.last_note = Some((note, result)),
                WorkerMessage::Picked { pick, path } => self.on_picked(pick, path),
                WorkerMessage::Fingerprint(fingerprint) => self.on_fingerprint(fingerprint),
                WorkerMessage::RotatingKey { name, result } => self.on_rotating_key(name, result),
                WorkerMessage::RotatingImported { name, result } => self.on_rotating_imported(name, result),
                WorkerMessage::BackupPreviewed { path, result } => self.on_backup_previewed(path, result),
                WorkerMessage::BackupWritten { count, result } => self.on_backup_written(count, result),
                WorkerMessage::Imported(applied) => self.on_imported(applied),
                WorkerMessage::Diagnosed { name, run, result } => self.on_diagnosed(&name, run, result),
                WorkerMessage::SecretsStored { name, result: Ok(()) } => {
                    self.notices.current = Some(Notice::Info(format!("saved {name}; its keys are in the OS keyring")));
                }
                WorkerMessage::SecretsStored { name, result: Err(err) } => {
                    let rotating = self.list.profile(&name).is_some_and(|p| p.rotating().is_some());
                    let variables = if rotating {
                        let [var, _] = client_core::rotating_key_variables(&name);
                        format!("${var}")
                    } else {
                        let [(key_var, hmac_var), _] = client_core::spa_key_variables(&name);
                        format!("${key_var} and ${hmac_var}")
                    };
                    self.notices.current = Some(Notice::Error(format!(
                        "saved {name}, but its keys could not be stored ({err}); give them in {variables}"
                    )));
                }
            }
        }
        changed
    }
}
