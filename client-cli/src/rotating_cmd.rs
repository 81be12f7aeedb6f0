//! `knock-cli rotating now NAME [--reveal]`: the current window's sequence of a rotating profile, for use
//! with other tools (`knock HOST $(knock-cli rotating now NAME --reveal)`), and the seconds it has left.

use client_core::ProfileStore;
use client_core::{KeyOwner, ReportedHit, rotating_key};

use crate::exit::ExitCode;
use crate::fail::Failure;

pub fn now(store: &ProfileStore, name: &str, reveal: bool) -> Result<ExitCode, Failure> {
    let stored = crate::open_cmd::load_profile(store, name)?;
    let knock = stored
        .profile
        .rotating()
        .ok_or_else(|| Failure::invalid(format!("{name} is not a rotating profile (add one with --rotating)")))?;
    let owner = KeyOwner::of(name, &stored.profile);
    let key = rotating_key(name, &owner).map_err(|e| Failure::invalid(e.to_string()))?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let rotation = &knock.rotation;
    let sequence = rotation.sequence(&key, rotation.window(now)).map_err(|e| Failure::invalid(e.to_string()))?;
    // Masked unless asked for: the ports are the secret of this window.
    let words: Vec<String> = sequence.hits().iter().map(|&hit| ReportedHit::new(hit, !reveal).to_string()).collect();
    outln!("{}", words.join(" "));
    errln!("{} s left in this window", rotation.seconds_left(now));
    Ok(ExitCode::Success)
}
