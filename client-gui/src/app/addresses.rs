//! Addresses: each profile's host looked up (off the UI thread) for the detail view and for Connect,
//! looked up again when the host or family changes.

use std::net::SocketAddr;

use client_core::AddressFamily;

use super::AppState;

/// The resolved address of a profile's host, for the detail view.
#[derive(Debug, Clone)]
pub enum Resolution {
    Pending { host: String, family: AddressFamily },
    Done { host: String, family: AddressFamily, result: Result<SocketAddr, client_core::ResolveError> },
}

impl Resolution {
    /// Whether this answer (or pending lookup) is for this host and family.
    fn is_for(&self, wanted_host: &str, wanted_family: AddressFamily) -> bool {
        match self {
            Resolution::Pending { host, family } | Resolution::Done { host, family, .. } => {
                host == wanted_host && *family == wanted_family
            }
        }
    }
}

impl AppState {
    /// Whether `name`'s host has no lookup pending or done for its current host and family (the detail
    /// view then asks for one: [`AppState::ensure_resolution`]).
    pub fn needs_resolution(&self, name: &str) -> bool {
        let Some(profile) = self.list.profile(name) else { return false };
        !self.resolution.get(name).is_some_and(|r| r.is_for(&profile.host, profile.family))
    }

    /// Starts a lookup of `name`'s host unless one for its current host and family is pending or done,
    /// so a new profile, a restart or a changed host never leaves a stale or missing address.
    pub fn ensure_resolution(&mut self, name: &str) {
        if !self.needs_resolution(name) {
            return;
        }
        let Some(profile) = self.list.profile(name) else { return };
        let (host, family) = (profile.host.clone(), profile.family);
        self.resolution.insert(name.to_owned(), Resolution::Pending { host: host.clone(), family });
        self.worker.resolve(name.to_owned(), host, family);
    }

    /// Looks the selected host up again (the detail view's Refresh).
    pub fn refresh_resolution(&mut self, name: &str) {
        self.resolution.remove(name);
        self.ensure_resolution(name);
    }

    pub(super) fn on_resolved(
        &mut self,
        name: String,
        host: String,
        family: AddressFamily,
        result: Result<SocketAddr, client_core::ResolveError>,
    ) {
        // A late answer for a host the profile no longer has is dropped.
        if self.resolution.get(&name).is_some_and(|r| r.is_for(&host, family)) {
            self.resolution.insert(name, Resolution::Done { host, family, result });
        }
    }
}
