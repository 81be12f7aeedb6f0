//! Connecting after an open: the command (the user's, else `ssh` with the family that was knocked),
//! run in the user's terminal; and the desktop's file manager for the profiles folder.

use super::AppState;
use super::addresses::Resolution;
use super::notices::Notice;

impl AppState {
    /// The command that connects to `name` after it opened: the user's, else `ssh` with the family of
    /// the address that was knocked (or resolved).
    pub fn connect_command(&self, name: &str) -> String {
        if let Some(command) = self.settings.connect_commands.get(name).filter(|c| !c.trim().is_empty()) {
            return command.clone();
        }
        let host = self.list.profile(name).map_or("", |p| p.host.as_str());
        let host = match self.settings.connect_users.get(name).map(|u| u.trim()).filter(|u| !u.is_empty()) {
            Some(user) => format!("{user}@{host}"),
            None => host.to_owned(),
        };
        let address = self.runs.knocks.get(name).and_then(|r| r.address).or_else(|| match self.resolution.get(name) {
            Some(Resolution::Done { result: Ok(address), .. }) => Some(*address),
            _ => None,
        });
        crate::desktop::default_connect_command(&host, address.map(|a| a.ip()))
    }

    /// Connect's user name for `name` (empty: none, ssh's default). A typed command keeps precedence.
    pub fn set_connect_user(&mut self, name: &str, user: String) {
        if user.trim().is_empty() {
            self.settings.connect_users.remove(name);
        } else {
            self.settings.connect_users.insert(name.to_owned(), user);
        }
    }

    /// The connect command the user typed for `name` (remembered across restarts).
    pub fn set_connect_command(&mut self, name: &str, command: String) {
        self.settings.connect_commands.insert(name.to_owned(), command);
    }

    /// Connect: runs `command` (the profile's ssh line) in a terminal window; the notice says how it went.
    pub fn connect_in_terminal(&mut self, command: &str) {
        self.notices.current = Some(match crate::desktop::run_in_terminal(command) {
            Ok(()) => Notice::Info(format!("started {command} in a terminal")),
            Err(err) => Notice::Error(err.to_string()),
        });
    }

    /// File → Open profiles folder, in the desktop's file manager.
    pub fn open_profiles_folder(&mut self) {
        if let Err(err) = crate::desktop::open_folder(self.files.store().dir()) {
            self.notices.current = Some(Notice::Error(err.to_string()));
        }
    }
}
