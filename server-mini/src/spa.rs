//! The SPA door's side effects: its settings (access.conf, fwknopd.conf, the nft sets), each packet to the
//! SPA port put through [`crate::spa_door::decide`], the replay cache recorded ([`crate::spa_replay`])
//! before anything opens, the refusal logged (rate-limited like every per-packet line), and a grant turned
//! into an opening through the same ordered, capped runner as every door ([`crate::actions`]):
//!
//! - a stanza with `CMD_CYCLE_OPEN` runs it (and `CMD_CYCLE_CLOSE` after `CMD_CYCLE_TIMER` seconds, unless
//!   `NONE`), with fwknopd's substitutions `$IP`/`$SRC` (the address let in), `$PKT_SRC`, `$DST`, `$PORT`,
//!   `$PROTO` (the first requested entry) and `$TIMEOUT`; every value substituted is an address, a number
//!   or `tcp`/`udp`, never text from the packet;
//! - otherwise the address let in goes into the nft set (`--fwknop-nft-set`, `--fwknop-nft-set-6`) with the
//!   granted timeout, so the kernel closes the door even if knock-server is killed;
//! - a stanza with neither only logs the opening.
//!
//! Each stanza is its own door for the runner: `spa-stanza-N`, its reserve of `--max-commands` and its
//! per-(door, address) order.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::actions::Actions;
use crate::config::{DoorConfig, NftDoor, SequenceSource};
use crate::fwknop_access::{AccessConf, NoHmac, Stanza};
use crate::log::Logger;
use crate::nft::NftSet;
use crate::spa_door::{self, AgeRule, Grant, Verdict};
use crate::spa_replay::{self, SpaReplay};

/// What the command line and fwknopd.conf say about the SPA door.
#[derive(Debug)]
pub(crate) struct SpaSettings {
    pub(crate) access_file: PathBuf,
    pub(crate) access: AccessConf,
    /// Whether stanzas without an HMAC key load (`--fwknop-allow-no-hmac`), also on SIGHUP.
    pub(crate) no_hmac: NoHmac,
    /// The UDP port SPA packets come to.
    pub(crate) port: u16,
    pub(crate) age: AgeRule,
    /// `ENABLE_DIGEST_PERSISTENCE`: the replay cache goes to the state directory.
    pub(crate) persist_digests: bool,
    pub(crate) nft4: Option<NftSet>,
    pub(crate) nft6: Option<NftSet>,
}

/// Counters of the SPA door, printed with the server's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpaCounters {
    pub packets: u64,
    pub not_spa: u64,
    pub refused: u64,
    pub replays: u64,
    pub opened: u64,
}

pub(crate) struct SpaDoor {
    settings: SpaSettings,
    replay: SpaReplay,
    /// One door per stanza, for the command runner (its commands and nft set filled in per opening).
    doors: Vec<DoorConfig>,
    pub(crate) counters: SpaCounters,
}

impl SpaDoor {
    pub(crate) fn new(settings: SpaSettings, state_dir: Option<&Path>) -> std::io::Result<SpaDoor> {
        let replay = SpaReplay::load(state_dir, settings.persist_digests)?;
        let doors = stanza_doors(&settings)?;
        Ok(SpaDoor { settings, replay, doors, counters: SpaCounters::default() })
    }

    /// SIGHUP: reads access.conf again; the replay cache stays. Returns the lines to log (as at start).
    pub(crate) fn reload_access(&mut self) -> Result<Vec<String>, String> {
        let access =
            crate::fwknop_access::load(&self.settings.access_file, self.settings.no_hmac).map_err(|e| e.to_string())?;
        let previous = std::mem::replace(&mut self.settings.access, access);
        match stanza_doors(&self.settings) {
            Ok(doors) => self.doors = doors,
            Err(err) => {
                self.settings.access = previous;
                return Err(err.to_string());
            }
        }
        Ok(self.startup_lines())
    }

    /// The doors the command runner keeps a reserve for: those that can run something.
    pub(crate) fn runner_doors(&self) -> Vec<DoorConfig> {
        let nft = self.nft_door(Duration::from_secs(1));
        self.settings
            .access
            .stanzas
            .iter()
            .zip(&self.doors)
            .filter(|(stanza, _)| stanza.cmd_cycle.is_some() || nft.is_some())
            .map(|(_, door)| {
                let mut door = door.clone();
                door.nft = nft.clone();
                door
            })
            .collect()
    }

    pub(crate) fn port(&self) -> u16 {
        self.settings.port
    }

    /// The lines logged at start: what was read, refused, and how doors open.
    pub(crate) fn startup_lines(&self) -> Vec<String> {
        let s = &self.settings;
        let mut lines = vec![format!(
            "SPA: {} stanza(s) from {} on UDP port {}, packet age {}, replay cache {}",
            s.access.stanzas.len(),
            s.access_file.display(),
            s.port,
            s.age.max_age.map_or("unchecked".to_owned(), |age| format!("up to {age} s")),
            match self.replay.path() {
                Some(path) => format!("in {} ({} digests)", path.display(), self.replay.len()),
                None => "in memory only (forgotten at a restart: pass --state-dir DIR)".to_owned(),
            }
        )];
        lines.extend(s.access.warnings.iter().map(|w| format!("SPA: warning: {w}")));
        lines.extend(s.access.refused.iter().map(|r| format!("SPA: {r}")));
        for stanza in &s.access.stanzas {
            if stanza.cmd_cycle.is_none() && s.nft4.is_none() && s.nft6.is_none() {
                lines.push(format!(
                    "SPA: warning: {} has no CMD_CYCLE_OPEN and no --fwknop-nft-set is given: its openings are only \
                     logged",
                    stanza.label()
                ));
            }
        }
        lines
    }

    fn nft_door(&self, timeout: Duration) -> Option<NftDoor> {
        let (set4, set6) = (self.settings.nft4.clone(), self.settings.nft6.clone());
        (set4.is_some() || set6.is_some()).then_some(NftDoor { set4, set6, timeout })
    }

    /// One UDP payload to the SPA port, at `unix` seconds.
    pub(crate) fn handle(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        payload: &[u8],
        unix: u64,
        actions: &mut Actions,
        log: &mut Logger,
    ) {
        self.counters.packets += 1;
        let replay = &self.replay;
        let verdict =
            spa_door::decide(&self.settings.access.stanzas, self.settings.age, src, dst, payload, unix, |d| {
                replay.contains(d)
            });
        match verdict {
            Verdict::NotSpa(why) => {
                self.counters.not_spa += 1;
                log.packet(|| format!("{src}: SPA: ignored: not SPA data ({why})"));
            }
            Verdict::Refused { reason, digest } => {
                self.counters.refused += 1;
                if reason == spa_door::Refusal::Replay {
                    self.counters.replays += 1;
                }
                if let Some(digest) = digest {
                    // A decrypted packet is recorded even when refused (fwknopd does too): its timestamp is not
                    // known here, so it is kept for the whole window on both sides of its arrival.
                    let expires = spa_replay::expiry(unix, unix, self.settings.age.max_age.map(|a| a * 2));
                    if let Err(err) = self.replay.record(&digest, expires, unix) {
                        log.event(|| format!("{src}: SPA: cannot record the packet's digest: {err}"));
                    }
                }
                log.packet(|| format!("{src}: SPA: refused: {reason}"));
            }
            Verdict::Open { grant, digest } => {
                let expires = spa_replay::expiry(grant.timestamp, unix, self.settings.age.max_age);
                if let Err(err) = self.replay.record(&digest, expires, unix) {
                    self.counters.refused += 1;
                    log.event(|| {
                        format!(
                            "{src}: SPA: cannot record the packet's digest: {err}: not opened (a packet a restart \
                             forgets could be replayed)"
                        )
                    });
                    return;
                }
                self.counters.opened += 1;
                self.open(src, dst, &grant, actions, log);
            }
        }
    }

    fn open(&self, src: IpAddr, dst: IpAddr, grant: &Grant, actions: &mut Actions, log: &mut Logger) {
        let (Some(stanza), Some(base)) = (self.settings.access.stanzas.get(grant.stanza), self.doors.get(grant.stanza))
        else {
            return;
        };
        let mut door = base.clone();
        let timeout = Duration::from_secs(u64::from(grant.timeout));
        match &stanza.cmd_cycle {
            Some(cycle) => {
                door.start_command = Some(expand(&cycle.open, src, dst, grant));
                door.stop_command = cycle.close.as_ref().map(|close| expand(close, src, dst, grant));
                door.cmd_timeout = Duration::from_secs(u64::from(cycle.timer));
            }
            None => door.nft = self.nft_door(timeout),
        }
        let ports: Vec<String> = grant.ports.iter().map(|(proto, port)| format!("{proto}/{port}")).collect();
        let how = format!(" (SPA from {src}, stanza #{}, {}, {} s)", stanza.number, ports.join(","), grant.timeout);
        actions.open(log, &door, grant.allow, &how, Instant::now());
    }

    /// The `--check` lines: stanzas, refusals, warnings, and the nft ruleset the sets need.
    pub(crate) fn check_lines(&self) -> Vec<String> {
        let mut lines = self.startup_lines();
        for stanza in &self.settings.access.stanzas {
            let ports = match &stanza.open_ports {
                Some(ports) => ports.iter().map(|(p, n)| format!("{p}/{n}")).collect::<Vec<_>>().join(","),
                None => "any port".to_owned(),
            };
            let how = match &stanza.cmd_cycle {
                Some(_) => "CMD_CYCLE_OPEN/CLOSE".to_owned(),
                None if self.settings.nft4.is_some() || self.settings.nft6.is_some() => "nft set".to_owned(),
                None => "log only".to_owned(),
            };
            let hmac = match stanza.hmac_key {
                Some(_) => stanza.hmac_type.as_str(),
                None => "none (no HMAC key: weak, see the warning)",
            };
            lines.push(format!(
                "SPA: {}: {ports}, HMAC {hmac}, {} s (client up to {} s), opens by {how}",
                stanza.label(),
                stanza.fw_access_timeout,
                stanza.max_fw_timeout
            ));
        }
        lines
    }

    pub(crate) fn nft_sets(&self) -> Vec<(&NftSet, crate::nft::NftFamilyUse)> {
        let mut sets = Vec::new();
        if let Some(set) = &self.settings.nft4 {
            sets.push((set, crate::nft::NftFamilyUse::Ipv4));
        }
        if let Some(set) = &self.settings.nft6 {
            sets.push((set, crate::nft::NftFamilyUse::Ipv6));
        }
        sets
    }

    /// The ports the stanzas open (for the ruleset printed by `--check`), None when one allows any port.
    pub(crate) fn open_ports(&self) -> Option<Vec<(client_core::Protocol, u16)>> {
        let mut all = Vec::new();
        for stanza in &self.settings.access.stanzas {
            all.extend(stanza.open_ports.clone()?);
        }
        all.sort_by_key(|(p, n)| (p.as_str(), *n));
        all.dedup();
        Some(all)
    }
}

/// For the fuzz target (`server-mini/fuzz`): reads `access` as the server does, then decides about
/// `payload` from 192.0.2.1 to 192.0.2.2 at unix second `now`; the verdict in words, or the error.
/// Stanzas without an HMAC key load (as with `--fwknop-allow-no-hmac`), so their path is fuzzed too.
pub fn fuzz_verdict(access: &Path, payload: &[u8], now: u64) -> Result<String, String> {
    let conf = crate::fwknop_access::load(access, NoHmac::Allow).map_err(|e| e.to_string())?;
    for refusal in &conf.refused {
        let _ = refusal.to_string();
    }
    let (src, dst) = (IpAddr::from([192, 0, 2, 1]), IpAddr::from([192, 0, 2, 2]));
    Ok(match spa_door::decide(&conf.stanzas, AgeRule::default(), src, dst, payload, now, |_| false) {
        Verdict::NotSpa(why) => format!("not SPA: {why}"),
        Verdict::Refused { reason, .. } => format!("refused: {reason}"),
        Verdict::Open { grant, .. } => format!("open: {grant:?}"),
    })
}

/// One door per stanza, for the command runner.
fn stanza_doors(settings: &SpaSettings) -> std::io::Result<Vec<DoorConfig>> {
    let sequence = client_core::knockd_conf::parse_sequence(&format!("{}:udp", settings.port))
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(settings
        .access
        .stanzas
        .iter()
        .map(|stanza| DoorConfig {
            name: door_name(stanza),
            line: stanza.line,
            sequence: SequenceSource::Fixed(sequence.clone()),
            seq_timeout: Duration::ZERO,
            tcp_flags: None,
            start_command: None,
            start_command_6: None,
            stop_command: None,
            stop_command_6: None,
            cmd_timeout: Duration::ZERO,
            target: None,
            nft: None,
            sweep_guard: None,
        })
        .collect())
}

/// The runner's name for a stanza's door.
fn door_name(stanza: &Stanza) -> String {
    format!("spa-stanza-{}", stanza.number)
}

/// fwknopd's `CMD_CYCLE_*` substitutions; longer names first so `$PKT_SRC` is not read as `$SRC`.
fn expand(command: &str, src: IpAddr, dst: IpAddr, grant: &Grant) -> String {
    let (proto, port) = grant.ports.first().map(|(p, n)| (p.as_str().to_owned(), n.to_string())).unwrap_or_default();
    command
        .replace("$PKT_SRC", &src.to_string())
        .replace("$TIMEOUT", &grant.timeout.to_string())
        .replace("$PROTO", &proto)
        .replace("$PORT", &port)
        .replace("$SRC", &grant.allow.to_string())
        .replace("$DST", &dst.to_string())
        .replace("$IP", &grant.allow.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use client_core::Protocol;

    #[test]
    fn cmd_cycle_substitutions_are_addresses_and_numbers_only() {
        let grant = Grant {
            stanza: 0,
            allow: "203.0.113.9".parse().expect("address"),
            ports: vec![(Protocol::Tcp, 22), (Protocol::Udp, 53)],
            timeout: 45,
            timestamp: 0,
        };
        let line = expand(
            "open $IP $SRC from $PKT_SRC to $DST $PROTO/$PORT for $TIMEOUT",
            "198.51.100.1".parse().expect("address"),
            "192.0.2.1".parse().expect("address"),
            &grant,
        );
        assert_eq!(line, "open 203.0.113.9 203.0.113.9 from 198.51.100.1 to 192.0.2.1 tcp/22 for 45");
    }
}
