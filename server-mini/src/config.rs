//! The server's configuration: a knockd.conf, read with client-core's knockd.conf parser and given
//! knockd's meaning, so users switch by pointing knock-server at their existing file. Every error names
//! the file, line and key and says what would be valid. [`lint`] adds the warnings of `--check`.

use std::fs;
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use client_core::knockd_conf::{
    self, ConfError, DEFAULT_CMD_TIMEOUT_SECS, DEFAULT_SEQ_TIMEOUT_SECS, KnockdConf, Section, parse_sequence,
};
use client_core::rotating::{self, RotatingError, Rotation};
use client_core::{Hit, Protocol, Sequence, TcpFlagSpec};

use crate::nft::{NftFamilyUse, NftSet};
use crate::sweep_guard::{self, Guard};

/// Valid `Seq_Timeout`s (seconds): at least 1 (0 could never be met), at most an hour.
pub(crate) const SEQ_TIMEOUT_RANGE: RangeInclusive<u64> = 1..=3600;
/// Valid `Cmd_Timeout`s (seconds): 0 (stop at once, as knockd) up to a week.
pub(crate) const CMD_TIMEOUT_RANGE: RangeInclusive<u64> = 0..=604_800;
/// Valid `Nft_Timeout`s (seconds): the kernel's element timeout, 1 s up to a week.
pub(crate) const NFT_TIMEOUT_RANGE: RangeInclusive<u64> = 1..=604_800;
/// knock-server's `Nft_Timeout` when a door has a set but no timeout.
pub(crate) const DEFAULT_NFT_TIMEOUT_SECS: u64 = 30;
/// Valid `Rotating_Step`s (seconds): 1 s up to a day.
pub(crate) const ROTATING_STEP_RANGE: RangeInclusive<u64> = 1..=86_400;
/// Valid `Rotating_Length`s (hits per sequence).
pub(crate) const ROTATING_LENGTH_RANGE: RangeInclusive<u64> = 1..=rotating::MAX_LENGTH as u64;
/// Valid `Rotating_Skew`s (windows accepted either side of the current one).
pub(crate) const ROTATING_SKEW_RANGE: RangeInclusive<u64> = 0..=10;
/// `Rotating_Skew` when absent: one window either side (about a step of clock difference).
pub(crate) const DEFAULT_ROTATING_SKEW: u64 = 1;
/// Valid `Sweep_Penalty`s (seconds): 0 (none) up to 10 minutes.
pub(crate) const SWEEP_PENALTY_RANGE: RangeInclusive<u64> = 0..=600;
/// Windows after the accepted ones in which a rotating knock may still finish (see
/// `rotating_doors::MAX_LATE_WINDOWS`); `--check` warns when Seq_Timeout is longer.
pub(crate) const ROTATING_MAX_LATE_WINDOWS: u64 = 2;

/// Global options (`[options]`, or the command line).
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Options {
    pub(crate) log_file: Option<PathBuf>,
    pub(crate) pid_file: Option<PathBuf>,
    pub(crate) interface: Option<String>,
    pub(crate) use_syslog: bool,
    /// `Public_Ports`: the host's public service ports, which never count against a knock (the sweep
    /// guard, see [`crate::sweep_guard`]).
    pub(crate) public_ports: Vec<Hit>,
    /// `Fwknop_Access`: fwknopd's access.conf for the SPA door (see [`crate::spa`]).
    pub(crate) fwknop_access: Option<PathBuf>,
    /// `Fwknop_Allow_No_Hmac = yes`: access.conf stanzas without an HMAC key load, with a warning (as
    /// `--fwknop-allow-no-hmac`).
    pub(crate) fwknop_allow_no_hmac: bool,
}

/// Where a door's sequence comes from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SequenceSource {
    Fixed(Sequence),
    /// `One_Time_Sequences = FILE`: each line a sequence, used once, in order.
    OneTime(PathBuf),
    /// `Rotating_Keys = FILE` and the other `Rotating_*` keys: a sequence per user and time window.
    Rotating(RotatingDoor),
}

/// A rotating door (see `docs/rotating-sequences.md`): the derivation's parameters (the door's name is
/// mixed into every sequence), the key file and how many windows either side of now are accepted.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RotatingDoor {
    pub(crate) keys: PathBuf,
    /// The line of `Rotating_Keys` (key file errors that concern the door point here).
    pub(crate) keys_line: usize,
    pub(crate) rotation: Rotation,
    pub(crate) skew: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DoorConfig {
    pub name: String,
    /// The line of the `[name]` header.
    pub line: usize,
    pub(crate) sequence: SequenceSource,
    pub(crate) seq_timeout: Duration,
    pub(crate) tcp_flags: Option<TcpFlagSpec>,
    pub(crate) start_command: Option<String>,
    pub(crate) start_command_6: Option<String>,
    pub(crate) stop_command: Option<String>,
    pub(crate) stop_command_6: Option<String>,
    pub(crate) cmd_timeout: Duration,
    pub(crate) target: Option<IpAddr>,
    /// `Nft_Set` / `Nft_Set_6` / `Nft_Timeout`: the source address goes into a kernel set that expires it.
    pub nft: Option<NftDoor>,
    /// `Sweep_Guard` (None: `off`) and `Sweep_Penalty`.
    pub(crate) sweep_guard: Option<Guard>,
}

/// A door's nftables sets (at least one of the two) and the element timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NftDoor {
    pub set4: Option<NftSet>,
    pub set6: Option<NftSet>,
    pub timeout: Duration,
}

impl NftDoor {
    /// The door's sets (one or both), each with the source family it holds.
    pub fn sets(&self) -> Vec<(&NftSet, NftFamilyUse)> {
        [(&self.set4, NftFamilyUse::Ipv4), (&self.set6, NftFamilyUse::Ipv6)]
            .into_iter()
            .filter_map(|(set, family)| set.as_ref().map(|s| (s, family)))
            .collect()
    }

    /// The set for a source of this family, if the door has one.
    pub(crate) fn set_for(&self, ipv6: bool) -> Option<&NftSet> {
        if ipv6 { self.set6.as_ref() } else { self.set4.as_ref() }
    }
}

impl DoorConfig {
    /// The commands for a knock over IPv4 or IPv6 (`*_6` when set, else the IPv4 ones, as knockd does).
    pub(crate) fn commands(&self, ipv6: bool) -> (Option<&str>, Option<&str>) {
        (pick(ipv6, &self.start_command, &self.start_command_6), pick(ipv6, &self.stop_command, &self.stop_command_6))
    }
}

fn pick<'a>(ipv6: bool, v4: &'a Option<String>, v6: &'a Option<String>) -> Option<&'a str> {
    if ipv6 { v6.as_deref().or(v4.as_deref()) } else { v4.as_deref() }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    pub(crate) path: PathBuf,
    pub(crate) options: Options,
    pub doors: Vec<DoorConfig>,
}

/// Reads and checks a knockd.conf.
pub fn load(path: &Path) -> Result<ServerConfig, ConfError> {
    let conf = knockd_conf::parse_file(path)?;
    from_conf(&conf, path).map_err(|e| e.in_file(path))
}

pub fn from_conf(conf: &KnockdConf, path: &Path) -> Result<ServerConfig, ConfError> {
    build(conf, path, false)
}

/// As [`from_conf`], for a server that also runs the SPA door (`--fwknop-access`): no knock door needed.
pub(crate) fn from_conf_with_spa(conf: &KnockdConf, path: &Path) -> Result<ServerConfig, ConfError> {
    build(conf, path, true)
}

fn build(conf: &KnockdConf, path: &Path, allow_no_doors: bool) -> Result<ServerConfig, ConfError> {
    conf.check_keys()?;
    let text = |key: &str| conf.option(key).and_then(|e| e.value.clone()).filter(|v| !v.is_empty());
    let options = Options {
        log_file: text("LogFile").map(PathBuf::from),
        pid_file: text("PidFile").map(PathBuf::from),
        interface: text("Interface"),
        use_syslog: conf.use_syslog(),
        public_ports: match conf.option("Public_Ports") {
            Some(entry) => entry.parse_value(|v| Ok(v.to_owned())).and_then(|v| {
                parse_public_ports(&v).map_err(|why| {
                    ConfError::at_entry(
                        entry,
                        format!("{why}: expected PORT[:tcp|:udp] or LOW-HIGH[:tcp|:udp], comma-separated, e.g. 80,443,53:udp"),
                    )
                })
            })?,
            None => Vec::new(),
        },
        fwknop_access: match conf.option("Fwknop_Access") {
            Some(entry) => Some(path_value(entry, path)?),
            None => None,
        },
        fwknop_allow_no_hmac: match conf.option("Fwknop_Allow_No_Hmac") {
            Some(entry) => entry.parse_value(|v| Ok(v.trim().to_owned())).and_then(|v| {
                match v.to_ascii_lowercase().as_str() {
                    "yes" => Ok(true),
                    "no" => Ok(false),
                    _ => Err(ConfError::at_entry(
                        entry,
                        format!("{v:?}: expected yes or no (yes loads access.conf stanzas without an HMAC key)"),
                    )),
                }
            })?,
            None => false,
        },
    };
    if conf.doors.is_empty() && options.fwknop_access.is_none() && !allow_no_doors {
        return Err(ConfError::at_line(
            1,
            "no doors: add (or uncomment) a section such as [openSSH] with a Sequence; `knock-server new-sequence` \
             prints a random one",
        ));
    }
    let doors = conf.doors.iter().map(|section| door(section, path)).collect::<Result<Vec<_>, _>>()?;
    Ok(ServerConfig { path: path.to_owned(), options, doors })
}

/// A path value; relative paths are relative to the config file, not to wherever the server was started.
fn path_value(entry: &knockd_conf::Entry, config_path: &Path) -> Result<PathBuf, ConfError> {
    let file = entry.parse_value(|v| Ok(PathBuf::from(v)))?;
    Ok(if file.is_relative() { config_path.parent().unwrap_or(Path::new(".")).join(file) } else { file })
}

fn door(section: &Section, config_path: &Path) -> Result<DoorConfig, ConfError> {
    let sequence =
        match (rotating_door(section, config_path)?, section.sequence()?, section.directive("One_Time_Sequences")) {
            (Some(rotating), _, _) => SequenceSource::Rotating(rotating),
            (None, _, Some(entry)) => SequenceSource::OneTime(path_value(entry, config_path)?),
            (None, Some(sequence), None) => SequenceSource::Fixed(sequence),
            (None, None, None) => {
                return Err(ConfError::at_line(
                    section.line,
                    format!(
                        "door [{}] has no Sequence (e.g. Sequence = 7000,8000,9000), no One_Time_Sequences and no \
                     Rotating_Keys",
                        section.name
                    ),
                ));
            }
        };
    let command = |key: &str| section.directive(key).and_then(|e| e.value.clone()).filter(|v| !v.trim().is_empty());
    let target = match section.directive("Target") {
        None => None,
        Some(entry) => Some(
            entry
                .parse_value(|v| Ok(v.trim().to_owned()))?
                .parse::<IpAddr>()
                .map_err(|_| ConfError::at_entry(entry, "expected one IP address, e.g. Target = 192.0.2.10"))?,
        ),
    };
    Ok(DoorConfig {
        name: section.name.clone(),
        line: section.line,
        sequence,
        seq_timeout: bounded_seconds(section, "Seq_Timeout", SEQ_TIMEOUT_RANGE, DEFAULT_SEQ_TIMEOUT_SECS)?,
        tcp_flags: section.tcp_flags()?,
        start_command: command("Start_Command"),
        start_command_6: command("Start_Command_6"),
        stop_command: command("Stop_Command"),
        stop_command_6: command("Stop_Command_6"),
        cmd_timeout: bounded_seconds(section, "Cmd_Timeout", CMD_TIMEOUT_RANGE, DEFAULT_CMD_TIMEOUT_SECS)?,
        target,
        nft: nft_door(section)?,
        sweep_guard: sweep_guard(section)?,
    })
}

/// `Sweep_Guard = on|off` (default on) and `Sweep_Penalty = SECONDS`.
fn sweep_guard(section: &Section) -> Result<Option<Guard>, ConfError> {
    let on = match section.get("Sweep_Guard") {
        None => true,
        Some(entry) => entry.parse_value(|v| Ok(v.trim().to_ascii_lowercase())).and_then(|v| match v.as_str() {
            "on" | "yes" | "true" => Ok(true),
            "off" | "no" | "false" => Ok(false),
            _ => Err(ConfError::at_entry(entry, format!("{v:?}: expected on or off"))),
        })?,
    };
    let penalty = bounded_seconds(section, "Sweep_Penalty", SWEEP_PENALTY_RANGE, sweep_guard::DEFAULT_PENALTY_SECS)?;
    let penalty_ms = u64::try_from(penalty.as_millis()).unwrap_or(u64::MAX);
    Ok(on.then_some(Guard { penalty_ms }))
}

/// Which `Public_Ports` item is wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PublicPortsError {
    #[error("{item:?}: not tcp or udp")]
    NotAProtocol { item: String },
    #[error("{item:?} is not a port (1-65535) or a rising range of ports")]
    NotAPort { item: String },
}

/// `80,443,53:udp,60000-61000:udp`: ports (or inclusive ranges) with an optional protocol (TCP when
/// absent). Err says which item is wrong.
pub(crate) fn parse_public_ports(text: &str) -> Result<Vec<Hit>, PublicPortsError> {
    let mut hits = Vec::new();
    for item in text.split(',').map(str::trim) {
        let (ports, protocol) = match item.rsplit_once(':') {
            Some((ports, protocol)) => (
                ports.trim(),
                protocol
                    .trim()
                    .parse::<Protocol>()
                    .map_err(|_| PublicPortsError::NotAProtocol { item: item.to_owned() })?,
            ),
            None => (item, Protocol::Tcp),
        };
        let port = |p: &str| p.trim().parse::<u16>().ok().filter(|p| *p >= 1);
        let (lo, hi) = match ports.split_once('-') {
            Some((lo, hi)) => (port(lo), port(hi)),
            None => (port(ports), port(ports)),
        };
        match (lo, hi) {
            (Some(lo), Some(hi)) if lo <= hi => hits.extend((lo..=hi).map(|port| Hit { port, protocol })),
            _ => return Err(PublicPortsError::NotAPort { item: item.to_owned() }),
        }
    }
    Ok(hits)
}

const ROTATING_KEYS: &str = "Rotating_Keys";
const ROTATING_PARAMETERS: &[&str] =
    &["Rotating_Step", "Rotating_Length", "Rotating_Range", "Rotating_Protocols", "Rotating_Skew"];

/// The `Rotating_*` keys of a door, checked: None for a door without `Rotating_Keys` (then no other
/// `Rotating_*` key may appear). A rotating door has no `Sequence` and no `One_Time_Sequences`.
fn rotating_door(section: &Section, config_path: &Path) -> Result<Option<RotatingDoor>, ConfError> {
    let Some(keys_entry) = section.get(ROTATING_KEYS) else {
        if let Some(entry) = ROTATING_PARAMETERS.iter().find_map(|key| section.get(key)) {
            return Err(ConfError::at_entry(
                entry,
                format!("{} needs Rotating_Keys = FILE (the USER BASE32KEY file) in the same door", entry.key),
            ));
        }
        return Ok(None);
    };
    for other in ["Sequence", "One_Time_Sequences"] {
        if let Some(entry) = section.get(other) {
            return Err(ConfError::at_entry(
                entry,
                format!(
                    "door [{}] has Rotating_Keys (line {}): a rotating door derives its sequences, so it has no \
                     {other}; remove one of the two",
                    section.name, keys_entry.line
                ),
            ));
        }
    }
    let keys = path_value(keys_entry, config_path)?;
    let mut rotation = Rotation::new(section.name.clone());
    let number = |key: &str, range: RangeInclusive<u64>, default: u64| -> Result<u64, ConfError> {
        let Some(entry) = section.get(key) else { return Ok(default) };
        let text = entry.parse_value(|v| Ok(v.trim().to_owned()))?;
        let value = text.parse::<u64>().map_err(|_| {
            ConfError::at_entry(
                entry,
                format!("{text:?} is not a whole number: expected {} to {}", range.start(), range.end()),
            )
        })?;
        if !range.contains(&value) {
            return Err(ConfError::at_entry(
                entry,
                format!("{value} is out of range: expected {} to {}", range.start(), range.end()),
            ));
        }
        Ok(value)
    };
    rotation.step = number("Rotating_Step", ROTATING_STEP_RANGE, Rotation::DEFAULT_STEP)?;
    rotation.length =
        usize::try_from(number("Rotating_Length", ROTATING_LENGTH_RANGE, Rotation::DEFAULT_LENGTH as u64)?)
            .unwrap_or(Rotation::DEFAULT_LENGTH);
    let skew = number("Rotating_Skew", ROTATING_SKEW_RANGE, DEFAULT_ROTATING_SKEW)?;
    if let Some(entry) = section.get("Rotating_Range") {
        rotation.range = entry.parse_value(|v| Ok(v.trim().to_owned())).and_then(|v| {
            parse_port_range(&v).ok_or_else(|| {
                ConfError::at_entry(
                    entry,
                    format!("{v:?} is not a port range: expected LOW-HIGH within 1-65535, e.g. 1024-65535"),
                )
            })
        })?;
    }
    if let Some(entry) = section.get("Rotating_Protocols") {
        rotation.protocols = entry.parse_value(|v| Ok(v.to_owned())).and_then(|v| {
            v.split(',')
                .map(|p| {
                    p.trim().parse::<Protocol>().map_err(|_| {
                        ConfError::at_entry(
                            entry,
                            format!("{:?} is not tcp or udp: expected e.g. tcp,udp,tcp,tcp", p.trim()),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        })?;
    }
    if let Err(err) = rotation.validate() {
        // Point at the key that would fix it.
        let key = match err {
            RotatingError::Range { .. } => "Rotating_Range",
            RotatingError::Template { .. } => "Rotating_Protocols",
            RotatingError::Length { .. } => "Rotating_Length",
            RotatingError::ZeroStep => "Rotating_Step",
            _ => ROTATING_KEYS,
        };
        let message = match err {
            RotatingError::Range { lo, hi, length } => format!(
                "the range {lo}-{hi} cannot hold Rotating_Length = {length} distinct ports: widen the range or \
                 shorten the sequence"
            ),
            RotatingError::Template { template, length } => format!(
                "{template} protocol(s) for Rotating_Length = {length} hits: give one protocol per hit (e.g. \
                 tcp,udp,tcp,tcp for 4)"
            ),
            other => other.to_string(),
        };
        let line = section.get(key).map_or(keys_entry.line, |e| e.line);
        let error = match section.get(key) {
            Some(entry) => ConfError::at_entry(entry, message),
            None => ConfError::at_line(line, message),
        };
        return Err(error);
    }
    Ok(Some(RotatingDoor { keys, keys_line: keys_entry.line, rotation, skew }))
}

/// `LOW-HIGH`, 1 <= LOW <= HIGH <= 65535.
fn parse_port_range(text: &str) -> Option<(u16, u16)> {
    let (lo, hi) = text.split_once('-')?;
    let lo: u16 = lo.trim().parse().ok()?;
    let hi: u16 = hi.trim().parse().ok()?;
    (lo >= 1 && lo <= hi).then_some((lo, hi))
}

/// A timeout key in seconds, checked against its range (file:line errors name the range).
fn bounded_seconds(
    section: &Section,
    key: &str,
    range: RangeInclusive<u64>,
    default: u64,
) -> Result<Duration, ConfError> {
    let Some(entry) = section.directive(key) else { return Ok(Duration::from_secs(default)) };
    let seconds = entry.parse_value(knockd_conf::parse_seconds)?;
    if !range.contains(&seconds) {
        return Err(ConfError::at_entry(
            entry,
            format!("{seconds} is out of range: expected {} to {} seconds", range.start(), range.end()),
        ));
    }
    Ok(Duration::from_secs(seconds))
}

fn nft_door(section: &Section) -> Result<Option<NftDoor>, ConfError> {
    let set = |key: &str, family: NftFamilyUse| {
        section.get(key).map(|entry| {
            entry
                .parse_value(|v| Ok(v.to_owned()))
                .and_then(|v| NftSet::parse(&v, family).map_err(|why| ConfError::at_entry(entry, why.to_string())))
        })
    };
    let set4 = set("Nft_Set", NftFamilyUse::Ipv4).transpose()?;
    let set6 = set("Nft_Set_6", NftFamilyUse::Ipv6).transpose()?;
    let timeout = bounded_seconds(section, "Nft_Timeout", NFT_TIMEOUT_RANGE, DEFAULT_NFT_TIMEOUT_SECS)?;
    if set4.is_none() && set6.is_none() {
        if let Some(entry) = section.get("Nft_Timeout") {
            return Err(ConfError::at_entry(
                entry,
                "Nft_Timeout needs Nft_Set (e.g. Nft_Set = inet knock allow4) or Nft_Set_6 in the same door",
            ));
        }
        return Ok(None);
    }
    Ok(Some(NftDoor { set4, set6, timeout }))
}

/// The sequences of a one-time file: every line that is not blank and does not start with `#` (a used
/// sequence is commented out), with its line number.
pub(crate) fn read_one_time(path: &Path) -> Result<Vec<(usize, Sequence)>, ConfError> {
    let text = fs::read_to_string(path).map_err(|source| ConfError::Read { path: path.to_owned(), source })?;
    let mut sequences = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let sequence = parse_sequence(trimmed)
            .map_err(|e| ConfError::at_line(index + 1, format!("invalid one-time sequence: {e}")).in_file(path))?;
        sequences.push((index + 1, sequence));
    }
    Ok(sequences)
}

/// A `--check` warning: legal, but weak or surprising.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub line: usize,
    pub door: String,
    pub message: String,
}

/// Weak doors: sequences a port scan completes, very short ones, no explicit timeout, no command; and
/// what knockd accepts but is easy to get wrong: a second `[options]`, two doors with one name.
pub fn lint(config: &ServerConfig, conf: &KnockdConf) -> Vec<Warning> {
    let mut warnings = Vec::new();
    let first_options = conf.options.as_ref().map_or(0, |o| o.line);
    for line in &conf.merged_options {
        warnings.push(Warning {
            line: *line,
            door: "options".to_owned(),
            message: format!(
                "a second [options] section: merged into the one at line {first_options}, as knockd does (a key \
                 set in both takes the later value); keep one [options]"
            ),
        });
    }
    for (later, first) in conf.duplicate_doors() {
        warnings.push(Warning {
            line: later.line,
            door: later.name.clone(),
            message: format!(
                "a door named [{}] is already defined at line {}: both are used, as knockd does, but the log cannot \
                 tell them apart; give each door its own name",
                first.name, first.line
            ),
        });
    }
    for door in &config.doors {
        let section = conf.doors.iter().find(|s| s.line == door.line);
        let mut warn = |message: String| {
            warnings.push(Warning { line: door.line, door: door.name.clone(), message });
        };
        if let SequenceSource::Fixed(sequence) = &door.sequence {
            let hits = sequence.hits();
            if hits.len() < 3 {
                warn(format!("only {} hit(s): a short sequence is easy to guess; use 3 or more", hits.len()));
            }
            if is_scan_completable(hits) {
                warn(if door.sweep_guard.is_some() {
                    "the ports rise (or fall) with one protocol: a port scan of exactly these ports in order opens \
                     it (the sweep guard stops a scan of any wider range); mix the order (e.g. 8000,7000,9000) or \
                     protocols"
                        .to_owned()
                } else {
                    "the ports rise (or fall) with one protocol: a sequential port scan from one address completes \
                     this sequence; mix the order (e.g. 8000,7000,9000) or protocols"
                        .to_owned()
                });
            }
            let public: Vec<String> = hits
                .iter()
                .filter(|h| config.options.public_ports.contains(h))
                .map(|h| format!("{}:{}", h.port, h.protocol.as_str()))
                .collect();
            if !public.is_empty() {
                warn(format!(
                    "{} also in Public_Ports: a public service's clients send to it all the time, resetting knocks \
                     that share their address; use ports that no service listens on",
                    public.join(", ")
                ));
            }
        }
        if let (SequenceSource::Fixed(sequence), Some(guard)) = (&door.sequence, door.sweep_guard) {
            let first = sequence.hits().first();
            for other in config.doors.iter().filter(|o| o.line != door.line) {
                let SequenceSource::Fixed(other_sequence) = &other.sequence else { continue };
                if first.is_none() || other_sequence.hits().last() != first {
                    continue;
                }
                let Some(hit) = first else { continue };
                warn(format!(
                    "begins with {}:{}, the last hit of [{}] (line {}): every [{}] knock leaves an attempt on this door, \
                     so the client's next new connection to this host (the SSH session it opened) resets it, and a \
                     knock on this door within Sweep_Penalty ({} s) of that connection starts nothing; begin with \
                     another port, or list the service's port in Public_Ports if everyone may reach it",
                    hit.port,
                    hit.protocol.as_str(),
                    other.name,
                    other.line,
                    other.name,
                    guard.penalty_ms / 1000,
                ));
            }
        }
        if door.sweep_guard.is_none() {
            warn(
                "Sweep_Guard = off: knockd's exact matching, so hits on other ports never reset an attempt and a \
                 blind sweep of every port in a random order opens this door (measured: knockd 0.8 opened \
                 8471,2947:udp,6302 in 1.1-6.9 s, a rotating door without the guard in 4-57 s); remove the line to \
                 turn the guard back on"
                    .to_owned(),
            );
        } else if door.sweep_guard.is_some_and(|g| g.penalty_ms == 0) {
            warn(
                "Sweep_Penalty = 0: a source whose knock was reset may try again at once, so a sweep restricted \
                 to a few ports gains from speed; leave the default (2 s)"
                    .to_owned(),
            );
        }
        if section.is_some_and(|s| s.directive("Seq_Timeout").is_none()) {
            warn(format!(
                "no Seq_Timeout: the default is {DEFAULT_SEQ_TIMEOUT_SECS} s; set it explicitly, as short as your clients allow"
            ));
        }
        if let SequenceSource::Rotating(r) = &door.sequence {
            let late = ROTATING_MAX_LATE_WINDOWS;
            if door.seq_timeout.as_secs() > r.rotation.step.saturating_mul(late) {
                warn(format!(
                    "Seq_Timeout ({} s) is longer than {late} rotating windows ({} s): a knock must finish within \
                     {late} windows after its window stops being accepted; shorten Seq_Timeout or lengthen \
                     Rotating_Step",
                    door.seq_timeout.as_secs(),
                    r.rotation.step.saturating_mul(late)
                ));
            }
        }
        if door.start_command.is_none() && door.start_command_6.is_none() && door.nft.is_none() {
            warn("no Start_Command and no Nft_Set: a completed knock does nothing".to_owned());
        }
        if door.tcp_flags.is_none()
            && match &door.sequence {
                SequenceSource::Fixed(s) => s.hits().iter().any(|h| h.protocol == Protocol::Tcp),
                SequenceSource::Rotating(r) => {
                    r.rotation.protocols.is_empty() || r.rotation.protocols.contains(&Protocol::Tcp)
                }
                SequenceSource::OneTime(_) => false,
            }
        {
            warn(
                "no TCPFlags: any TCP segment counts as a hit (RSTs and ACKs included); TCPFlags = syn is usual"
                    .to_owned(),
            );
        }
    }
    warnings
}

/// What a blind sweep can and cannot do against `door`, for `--check`.
pub(crate) fn sweep_summary(door: &DoorConfig, options: &Options) -> String {
    let Some(guard) = door.sweep_guard else {
        return "sweep guard off: a blind sweep of every port in a random order can open this door in seconds"
            .to_owned();
    };
    let public = if options.public_ports.is_empty() {
        String::new()
    } else {
        let mut ports: Vec<String> =
            options.public_ports.iter().take(8).map(|h| format!("{}:{}", h.port, h.protocol.as_str())).collect();
        if options.public_ports.len() > 8 {
            ports.push("...".to_owned());
        }
        format!(" (except Public_Ports {})", ports.join(","))
    };
    let scope = match &door.sequence {
        SequenceSource::Rotating(r) => format!("any port in {}-{}", r.rotation.range.0, r.rotation.range.1),
        _ => "any other port of this host".to_owned(),
    };
    let secs = guard.penalty_ms / 1000;
    format!(
        "sweep guard on: a SYN or UDP datagram from a knocking address to {scope}{public} ends its attempt, and \
         that address then waits {secs} s; a blind sweep cannot open this door (each try needs exactly the next \
         port, one try per {secs} s per address; not opened after 50 M SYNs in scripts/server-bench.sh); knowing \
         the door's ports, or seeing a knock on the wire, still can"
    )
}

/// A sequence whose ports strictly rise (or fall) with a single protocol is hit, in order, by a scan.
fn is_scan_completable(hits: &[Hit]) -> bool {
    if hits.len() < 2 || hits.iter().any(|h| h.protocol != hits[0].protocol) {
        return false;
    }
    let rising = hits.windows(2).all(|w| w[0].port < w[1].port);
    let falling = hits.windows(2).all(|w| w[0].port > w[1].port);
    rising || falling
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ServerConfig, ConfError> {
        let conf = knockd_conf::parse(text)?;
        from_conf(&conf, Path::new("/etc/knockd.conf"))
    }

    #[test]
    fn debian_defaults_aliases_and_ipv6_commands() {
        let config = parse(
            "[options]\n UseSyslog\n Interface = eth1\n[openSSH]\n sequence = 7000,8000,9000\n command = /bin/true %IP%\n \
             tcpflags = syn\n[v6]\n sequence = 1:udp\n Start_Command = a\n Start_Command_6 = b\n Stop_Command = c\n \
             Timeout = 7\n cmd_timeout = 3\n target = 2001:db8::2\n",
        )
        .expect("valid");
        assert!(config.options.use_syslog);
        assert_eq!(config.options.interface.as_deref(), Some("eth1"));
        let ssh = &config.doors[0];
        assert_eq!(ssh.seq_timeout, Duration::from_secs(25), "knockd's default");
        assert_eq!(ssh.cmd_timeout, Duration::from_secs(10));
        assert_eq!(ssh.start_command.as_deref(), Some("/bin/true %IP%"), "Command is Start_Command");
        let v6 = &config.doors[1];
        assert_eq!((v6.seq_timeout, v6.cmd_timeout), (Duration::from_secs(7), Duration::from_secs(3)));
        assert_eq!(v6.commands(true), (Some("b"), Some("c")), "*_6 first, IPv4 command as fallback");
        assert_eq!(v6.commands(false), (Some("a"), Some("c")));
        assert_eq!(v6.target, Some("2001:db8::2".parse().expect("ip")));
    }

    #[test]
    fn errors_name_the_line_and_key() {
        let e = parse("[d]\n sequence = 7000\n target = not-an-ip\n").expect_err("target").to_string();
        assert!(e.contains("line 3") && e.contains("target") && e.contains("IP address"), "{e}");
        let e = parse("[d]\n command = x\n").expect_err("no sequence").to_string();
        assert!(e.contains("line 1") && e.contains("no Sequence"), "{e}");
        let e = parse("[d]\n sequence = 7000\n seq_timeout = soon\n").expect_err("timeout").to_string();
        assert!(e.contains("line 3"), "{e}");
        let e = parse("[d]\n sequence = 7000\n bogus = 1\n").expect_err("unknown key").to_string();
        assert!(e.contains("line 3") && e.contains("bogus"), "{e}");
        assert!(parse("[options]\n LogFile = /x\n").expect_err("no doors").to_string().contains("no doors"));
    }

    // nftables doors exist on Linux only (see nft.rs); elsewhere the nft keys are refused.
    #[cfg(target_os = "linux")]
    #[test]
    fn every_number_has_a_range_reported_with_the_line() {
        let door = |line: &str| parse(&format!("[d]\n sequence = 7000\n nft_set = inet knock allow4\n {line}\n"));
        for (key, range) in
            [("seq_timeout", SEQ_TIMEOUT_RANGE), ("cmd_timeout", CMD_TIMEOUT_RANGE), ("nft_timeout", NFT_TIMEOUT_RANGE)]
        {
            for ok in [*range.start(), *range.end()] {
                assert!(door(&format!("{key} = {ok}")).is_ok(), "{key} = {ok}");
            }
            let mut bad = vec![range.end() + 1, u64::MAX];
            if *range.start() > 0 {
                bad.push(range.start() - 1);
            }
            for bad in bad {
                let e = door(&format!("{key} = {bad}")).expect_err("out of range").to_string();
                assert!(e.contains("line 4") && e.contains(key) && e.contains("out of range"), "{e}");
            }
            let e = door(&format!("{key} = 18446744073709551616")).expect_err("overflow").to_string();
            assert!(e.contains("line 4") && e.contains("whole number"), "{e}");
        }
        // Ports and the number of hits have their ranges in the sequence parser.
        for bad in ["0", "65536", &vec!["7000"; 33].join(",")] {
            let e = parse(&format!("[d]\n sequence = {bad}\n")).expect_err("bad sequence").to_string();
            assert!(e.contains("line 2"), "{e}");
        }
    }

    // nftables doors exist on Linux only (see nft.rs); elsewhere the nft keys are refused.
    #[cfg(target_os = "linux")]
    #[test]
    fn nft_keys_make_a_door_with_both_sets_and_a_timeout() {
        let config = parse(
            "[d]\n sequence = 7000,8000,9000\n Nft_Set = inet knock allow4\n Nft_Set_6 = inet knock allow6\n \
             Nft_Timeout = 30\n",
        )
        .expect("valid");
        let nft = config.doors[0].nft.as_ref().expect("nft door");
        assert_eq!(nft.timeout, Duration::from_secs(30));
        assert_eq!(nft.set_for(false).map(ToString::to_string).as_deref(), Some("inet knock allow4"));
        assert_eq!(nft.set_for(true).map(ToString::to_string).as_deref(), Some("inet knock allow6"));
        let e = parse("[d]\n sequence = 7000\n nft_timeout = 5\n").expect_err("no set").to_string();
        assert!(e.contains("line 3") && e.contains("Nft_Set"), "{e}");
        let e = parse("[d]\n sequence = 7000\n nft_set_6 = ip knock allow6\n").expect_err("family").to_string();
        assert!(e.contains("line 3") && e.contains("inet or ip6"), "{e}");
    }

    #[test]
    fn repeated_options_and_door_names_are_accepted_with_a_warning() {
        let text = "[options]\n LogFile = /a\n[d]\n sequence = 7000\n[options]\n UseSyslog\n[d]\n sequence = 8000\n";
        let conf = knockd_conf::parse(text).expect("parse");
        let config = from_conf(&conf, Path::new("k.conf")).expect("valid, as in knockd");
        assert_eq!(config.doors.len(), 2);
        assert!(config.options.use_syslog && config.options.log_file.is_some(), "merged options");
        let warnings = lint(&config, &conf);
        assert!(warnings.iter().any(|w| w.line == 5 && w.message.contains("second [options]")), "{warnings:?}");
        assert!(
            warnings.iter().any(|w| w.line == 7 && w.message.contains("already defined at line 3")),
            "{warnings:?}"
        );
    }

    #[test]
    fn sweep_guard_keys_have_defaults_ranges_and_file_line_errors() {
        let config =
            parse("[options]\n Public_Ports = 80, 443,53:udp,60000-60002:udp\n[d]\n sequence = 7000\n").expect("valid");
        assert_eq!(config.doors[0].sweep_guard, Some(Guard { penalty_ms: 2000 }), "on by default, 2 s");
        let public = &config.options.public_ports;
        assert_eq!(public.len(), 6, "{public:?}");
        assert!(public.contains(&Hit { port: 60001, protocol: Protocol::Udp }));
        assert!(public.contains(&Hit { port: 443, protocol: Protocol::Tcp }));
        let off = parse("[d]\n sequence = 7000\n Sweep_Guard = OFF\n Sweep_Penalty = 0\n").expect("valid");
        assert_eq!(off.doors[0].sweep_guard, None);
        let on = parse("[d]\n sequence = 7000\n sweep_guard = on\n sweep_penalty = 600\n").expect("valid");
        assert_eq!(on.doors[0].sweep_guard, Some(Guard { penalty_ms: 600_000 }));
        for (text, line, why) in [
            ("[d]\n sequence = 7000\n Sweep_Guard = maybe\n", 3, "expected on or off"),
            ("[d]\n sequence = 7000\n Sweep_Penalty = 601\n", 3, "expected 0 to 600 seconds"),
            ("[options]\n Public_Ports = 80,0\n[d]\n sequence = 7000\n", 2, "\"0\" is not a port"),
            ("[options]\n Public_Ports = 443-80\n[d]\n sequence = 7000\n", 2, "rising range"),
            ("[options]\n Public_Ports = 53:icmp\n[d]\n sequence = 7000\n", 2, "not tcp or udp"),
        ] {
            let e = parse(text).expect_err(text).to_string();
            assert!(e.contains(&format!("line {line}")) && e.contains(why), "{text:?}: {e}");
        }
    }

    #[test]
    fn check_says_what_a_sweep_can_do_and_warns_when_the_guard_is_off() {
        let text = "[options]\n Public_Ports = 443\n[on]\n sequence = 8000,7000:udp,9000\n seq_timeout = 5\n \
                    tcpflags = syn\n command = x\n[off]\n sequence = 8000,7000:udp,443\n seq_timeout = 5\n \
                    tcpflags = syn\n command = x\n Sweep_Guard = off\n";
        let conf = knockd_conf::parse(text).expect("parse");
        let config = from_conf(&conf, Path::new("k.conf")).expect("valid");
        let warnings = lint(&config, &conf);
        let of = |door: &str| warnings.iter().filter(|w| w.door == door).map(|w| w.message.clone()).collect::<Vec<_>>();
        assert!(of("on").is_empty(), "{warnings:?}");
        let off = of("off");
        assert!(off.iter().any(|m| m.contains("Sweep_Guard = off") && m.contains("blind sweep")), "{off:?}");
        assert!(off.iter().any(|m| m.contains("443:tcp also in Public_Ports")), "{off:?}");
        let on = sweep_summary(&config.doors[0], &config.options);
        assert!(
            on.contains("sweep guard on") && on.contains("except Public_Ports 443:tcp") && on.contains("2 s"),
            "{on}"
        );
        assert!(sweep_summary(&config.doors[1], &config.options).contains("sweep guard off"));
    }

    #[test]
    fn an_empty_command_disables_it() {
        let config = parse("[d]\n sequence = 7000\n start_command =\n").expect("valid");
        assert_eq!(config.doors[0].start_command, None);
    }

    #[test]
    fn one_time_files_are_read_with_line_numbers() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("otp");
        fs::write(&file, "# used list\n 7000,8000\n\n 9000:udp,9100\n").expect("write");
        let config = parse(&format!("[d]\n one_time_sequences = {}\n", file.display())).expect("valid");
        assert_eq!(config.doors[0].sequence, SequenceSource::OneTime(file.clone()));
        let sequences = read_one_time(&file).expect("read");
        assert_eq!(sequences.iter().map(|(l, _)| *l).collect::<Vec<_>>(), [2, 4]);
        fs::write(&file, " 7000,99999\n").expect("write");
        let e = read_one_time(&file).expect_err("bad").to_string();
        assert!(e.contains("otp:1"), "{e}");
    }

    /// knockd's classic pair: the close door begins where the open door ends (docs/server.md, sweep guard).
    #[test]
    fn lint_flags_a_door_that_begins_with_another_doors_last_hit() {
        let text = "[openSSH]\n sequence = 8000,7000,9000\n seq_timeout = 5\n tcpflags = syn\n command = x\n\
                    [closeSSH]\n sequence = 9000,7100,8100\n seq_timeout = 5\n tcpflags = syn\n command = y\n";
        let conf = knockd_conf::parse(text).expect("parse");
        let config = from_conf(&conf, Path::new("k.conf")).expect("valid");
        let warnings = lint(&config, &conf);
        let close: Vec<_> = warnings.iter().filter(|w| w.door == "closeSSH").collect();
        assert!(
            close.iter().any(|w| w.message.contains("begins with 9000:tcp, the last hit of [openSSH] (line 1)")),
            "{warnings:?}"
        );
        assert!(!warnings.iter().any(|w| w.door == "openSSH" && w.message.contains("begins with")), "{warnings:?}");
        // Without the guard (knockd's matching) a stray connection resets nothing: no warning of this kind.
        let off = text.replace("command = y\n", "command = y\n Sweep_Guard = off\n");
        let conf = knockd_conf::parse(&off).expect("parse");
        let config = from_conf(&conf, Path::new("k.conf")).expect("valid");
        assert!(!lint(&config, &conf).iter().any(|w| w.message.contains("begins with")));
        // A close sequence that begins on another port: nothing to say.
        let fixed = text.replace("9000,7100,8100", "7100,9100,8100");
        let conf = knockd_conf::parse(&fixed).expect("parse");
        let config = from_conf(&conf, Path::new("k.conf")).expect("valid");
        assert!(!lint(&config, &conf).iter().any(|w| w.message.contains("begins with")));
    }

    #[test]
    fn lint_flags_weak_doors() {
        let text = "[scan]\n sequence = 7000,8000,9000\n seq_timeout = 5\n tcpflags = syn\n command = x\n\
                    [short]\n sequence = 7000\n\
                    [good]\n sequence = 8000,7000:udp,9000\n seq_timeout = 5\n tcpflags = syn\n command = x\n";
        let conf = knockd_conf::parse(text).expect("parse");
        let config = from_conf(&conf, Path::new("k.conf")).expect("valid");
        let warnings = lint(&config, &conf);
        let of =
            |door: &str| warnings.iter().filter(|w| w.door == door).map(|w| w.message.as_str()).collect::<Vec<_>>();
        assert!(of("scan").iter().any(|m| m.contains("port scan")), "{warnings:?}");
        let short = of("short");
        assert!(short.iter().any(|m| m.contains("1 hit")) && short.iter().any(|m| m.contains("Seq_Timeout")));
        assert!(short.iter().any(|m| m.contains("Start_Command")) && short.iter().any(|m| m.contains("TCPFlags")));
        assert!(of("good").is_empty(), "{warnings:?}");
    }
}

#[cfg(test)]
mod rotating_tests {
    use super::*;

    fn parse(text: &str) -> Result<ServerConfig, ConfError> {
        let conf = knockd_conf::parse(text)?;
        from_conf(&conf, Path::new("/etc/knockd.conf"))
    }

    #[test]
    fn fwknop_allow_no_hmac_is_yes_or_no_and_off_by_default() {
        let spa = |extra: &str| {
            let conf = knockd_conf::parse(&format!("[options]\n Fwknop_Access = a.conf\n{extra}"))?;
            from_conf_with_spa(&conf, Path::new("/etc/knockd.conf"))
        };
        assert!(!spa("").expect("valid").options.fwknop_allow_no_hmac);
        assert!(spa(" Fwknop_Allow_No_Hmac = yes\n").expect("valid").options.fwknop_allow_no_hmac);
        assert!(!spa(" Fwknop_Allow_No_Hmac = No\n").expect("valid").options.fwknop_allow_no_hmac);
        let err = spa(" Fwknop_Allow_No_Hmac = maybe\n").expect_err("refused").to_string();
        assert!(err.contains("line 3") && err.contains("expected yes or no"), "{err}");
    }

    #[test]
    fn rotating_keys_make_a_rotating_door() {
        let config = parse(
            "[ssh]\n Rotating_Keys = ssh.keys\n Rotating_Step = 4\n Rotating_Length = 3\n Rotating_Range = 40000-40100\n \
             Rotating_Protocols = tcp,udp,tcp\n Rotating_Skew = 2\n",
        )
        .expect("valid");
        let SequenceSource::Rotating(door) = &config.doors[0].sequence else { panic!("not rotating") };
        assert_eq!(door.keys, Path::new("/etc/ssh.keys"), "relative to the config file");
        assert_eq!((door.rotation.step, door.rotation.length, door.rotation.range), (4, 3, (40000, 40100)));
        assert_eq!(door.rotation.protocols, [Protocol::Tcp, Protocol::Udp, Protocol::Tcp]);
        assert_eq!((door.skew, door.rotation.door.as_str(), door.keys_line), (2, "ssh", 2));
        let defaults = parse("[ssh]\n Rotating_Keys = /k\n").expect("valid");
        let SequenceSource::Rotating(door) = &defaults.doors[0].sequence else { panic!("not rotating") };
        assert_eq!((door.skew, door.rotation.clone()), (1, Rotation::new("ssh")));
    }

    #[test]
    fn check_warns_when_a_rotating_knock_may_outlast_its_late_windows() {
        let text = "[ssh]\n Rotating_Keys = /k\n Rotating_Step = 4\n Seq_Timeout = 10\n TCPFlags = syn\n command = x\n";
        let conf = knockd_conf::parse(text).expect("parse");
        let config = from_conf(&conf, Path::new("k.conf")).expect("valid");
        let warnings = lint(&config, &conf);
        assert!(warnings.iter().any(|w| w.message.contains("longer than 2 rotating windows")), "{warnings:?}");
        let text = text.replace("Seq_Timeout = 10", "Seq_Timeout = 8");
        let conf = knockd_conf::parse(&text).expect("parse");
        let config = from_conf(&conf, Path::new("k.conf")).expect("valid");
        assert!(lint(&config, &conf).is_empty(), "{:?}", lint(&config, &conf));
    }

    #[test]
    fn rotating_errors_name_the_line_and_what_is_valid() {
        for (text, line, why) in [
            ("[d]\n Rotating_Keys = /k\n Sequence = 1,2,3\n", 3, "no Sequence"),
            ("[d]\n One_Time_Sequences = /o\n Rotating_Keys = /k\n", 2, "no One_Time_Sequences"),
            ("[d]\n Sequence = 1,2,3\n Rotating_Step = 30\n", 3, "needs Rotating_Keys"),
            ("[d]\n Rotating_Keys = /k\n Rotating_Step = 0\n", 3, "expected 1 to 86400"),
            ("[d]\n Rotating_Keys = /k\n Rotating_Step = 86401\n", 3, "out of range"),
            ("[d]\n Rotating_Keys = /k\n Rotating_Length = 17\n", 3, "expected 1 to 16"),
            ("[d]\n Rotating_Keys = /k\n Rotating_Skew = 11\n", 3, "expected 0 to 10"),
            ("[d]\n Rotating_Keys = /k\n Rotating_Length = four\n", 3, "not a whole number: expected 1 to 16"),
            ("[d]\n Rotating_Keys = /k\n Rotating_Range = 2000-1000\n", 3, "LOW-HIGH"),
            ("[d]\n Rotating_Keys = /k\n Rotating_Range = 0-10\n", 3, "LOW-HIGH"),
            ("[d]\n Rotating_Keys = /k\n Rotating_Range = 40000-40002\n", 3, "cannot hold Rotating_Length = 4"),
            ("[d]\n Rotating_Keys = /k\n Rotating_Protocols = tcp,udp\n", 3, "2 protocol(s) for Rotating_Length = 4"),
            ("[d]\n Rotating_Keys = /k\n Rotating_Protocols = tcp,icmp,tcp,tcp\n", 3, "not tcp or udp"),
        ] {
            let e = parse(text).expect_err(text).to_string();
            assert!(e.contains(&format!("line {line}")) && e.contains(why), "{text:?}: {e}");
        }
    }
}
