//! The server: packets in, doors advanced, log lines and commands out. Live capture and `--read` replay
//! both feed [`Server::handle_frame`] and [`Server::tick`]; only the clock differs (wall time or the
//! capture's timestamps).

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use client_core::knockd_conf::ConfError;
use client_core::{Hit, Protocol, Sequence};

use crate::actions::{ActionCounters, Actions, DEFAULT_MAX_COMMANDS};
use crate::config::{DoorConfig, SequenceSource, ServerConfig};
use crate::doors::{DEFAULT_MAX_ATTEMPTS, DoorSpec, Doors, Event, Millis, Reason};
use crate::log::{Logger, Noise};
use crate::one_time::{self, UsedSequences};
use crate::packet::{self, LinkType, Parsed};
use crate::rotating_doors::{RotatingDoors, RotatingSpec};
use crate::rotating_keys;
use crate::rotating_used::{self, UsedWindows};
use crate::spa::{SpaCounters, SpaDoor, SpaSettings};
use crate::sweep_guard::PortSet;

/// Above this many distinct ports per protocol, the capture filter passes a rotating door's whole port
/// range instead of its current ports: each port costs BPF instructions, and the kernel caps a filter at
/// 4096 instructions (500 TCP and 500 UDP ports compile to ~3,800 with libpcap 1.10).
pub(crate) const MAX_FILTER_PORTS: usize = 400;

/// How the server runs (from the command line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    /// Most attempts in progress at once (`--max-attempts`).
    pub max_attempts: usize,
    /// Most commands running at once (`--max-commands`).
    pub max_commands: usize,
    /// Log commands instead of running them.
    pub dry_run: bool,
    /// Where state that must survive restarts lives (used one-time sequences); None keeps it in memory.
    pub state_dir: Option<PathBuf>,
}

impl Default for ServerOptions {
    fn default() -> ServerOptions {
        ServerOptions {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            max_commands: DEFAULT_MAX_COMMANDS,
            dry_run: false,
            state_dir: None,
        }
    }
}

/// Counters, printed on SIGUSR1 and at exit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub packets: u64,
    /// Packets to a door's port and protocol.
    pub hits: u64,
    pub not_knock: u64,
    pub fragments: u64,
    pub malformed: u64,
    pub stages: u64,
    pub opened: u64,
    pub wrong_hits: u64,
    pub timeouts: u64,
    pub flags_ignored: u64,
    pub evicted: u64,
    /// Rotating sequences completed in a window their user had already used.
    pub replays: u64,
    /// First hits that started no attempt because their source was waiting out a sweep-guard penalty.
    pub penalised: u64,
}

/// A one-time door's remaining sequences, the active one first.
struct OneTime {
    path: PathBuf,
    remaining: Vec<Sequence>,
}

pub struct Server {
    config: ServerConfig,
    doors: Doors,
    rotating: RotatingDoors,
    one_time: Vec<Option<OneTime>>,
    used: UsedSequences,
    used_windows: UsedWindows,
    /// Rotating windows follow the capture's timestamps (a replay) instead of the wall clock.
    capture_clock: bool,
    max_attempts: usize,
    pub(crate) actions: Actions,
    pub(crate) log: Logger,
    pub(crate) counters: Counters,
    events: Vec<Event>,
    filter_changed: bool,
    /// The `now` of the last [`Server::tick`].
    last_tick: Option<Millis>,
    /// The SPA door (`--fwknop-access`), if any.
    spa: Option<SpaDoor>,
    state_dir: Option<PathBuf>,
}

impl Server {
    pub fn new(config: ServerConfig, options: ServerOptions, log: Logger) -> Result<Server, ConfError> {
        let used = UsedSequences::load(options.state_dir.as_deref()).map_err(|source| ConfError::Read {
            path: options.state_dir.clone().unwrap_or_default().join(one_time::STATE_FILE),
            source,
        })?;
        let used_windows = UsedWindows::load(options.state_dir.as_deref()).map_err(|source| ConfError::Read {
            path: options.state_dir.clone().unwrap_or_default().join(rotating_used::STATE_FILE),
            source,
        })?;
        let (doors, rotating, one_time) = build_doors(&config, options.max_attempts, &used)?;
        let mut server = Server {
            config,
            doors,
            rotating,
            one_time,
            used,
            used_windows,
            capture_clock: false,
            max_attempts: options.max_attempts,
            actions: Actions::new(options.dry_run, options.max_commands),
            log,
            counters: Counters::default(),
            events: Vec::with_capacity(16),
            filter_changed: false,
            last_tick: None,
            spa: None,
            state_dir: options.state_dir.clone(),
        };
        server.actions.set_doors(&server.config.doors);
        server.log_disabled_doors();
        server.follow_windows(0);
        if !server.rotating.is_empty() && server.used_windows.path().is_none() {
            server.log.important(
                "rotating doors without --state-dir: used windows are forgotten at a restart, so a sequence seen \
                 in the last windows could be replayed right after one; pass --state-dir DIR",
            );
        }
        Ok(server)
    }

    /// Adds the SPA door (`--fwknop-access`): its replay cache is read from the state directory, its
    /// stanzas get their share of the command runner, and the capture filter passes its port.
    pub(crate) fn enable_spa(&mut self, settings: SpaSettings) -> std::io::Result<()> {
        let spa = SpaDoor::new(settings, self.state_dir.as_deref())?;
        for line in spa.startup_lines() {
            self.log.important(&line);
        }
        self.spa = Some(spa);
        self.set_runner_doors();
        self.filter_changed = true;
        Ok(())
    }

    /// SIGHUP for the SPA door: access.conf read again (a bad one is reported and the running stanzas
    /// kept); the replay cache is kept as it is.
    pub(crate) fn reload_spa(&mut self) {
        let Some(spa) = self.spa.as_mut() else { return };
        let lines = match spa.reload_access() {
            Ok(lines) => lines,
            Err(err) => vec![format!("SPA: access.conf not reloaded, keeping the running stanzas: {err}")],
        };
        for line in lines {
            self.log.important(&line);
        }
        self.set_runner_doors();
    }

    /// Whether the SPA door runs commands or nft updates (it then needs CAP_NET_ADMIN).
    pub(crate) fn spa_runs_something(&self) -> bool {
        self.spa.as_ref().is_some_and(|spa| !spa.runner_doors().is_empty())
    }

    /// The command runner's doors: the configuration's and the SPA stanzas'.
    fn set_runner_doors(&mut self) {
        let mut doors = self.config.doors.clone();
        if let Some(spa) = &self.spa {
            doors.extend(spa.runner_doors());
        }
        self.actions.set_doors(&doors);
    }

    /// Rotating windows follow the timestamps passed to [`Server::handle_frame`] (unix milliseconds, as in
    /// a pcap file) instead of the wall clock.
    pub(crate) fn use_capture_clock(&mut self) {
        self.capture_clock = true;
    }

    /// Unix seconds: the wall clock, or `now` with the capture clock. (`now` is only read then.)
    fn unix_secs(&self, now: Millis) -> u64 {
        if self.capture_clock {
            return now / 1000;
        }
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
    }

    /// Moves the rotating doors to the current window (the capture filter follows when it changed).
    fn follow_windows(&mut self, now: Millis) {
        if self.rotating.is_empty() {
            return;
        }
        let unix = self.unix_secs(now);
        if self.rotating.set_time(unix) {
            self.filter_changed = true;
        }
    }

    /// SIGHUP: a new configuration. Attempts in progress are dropped (their doors may have changed);
    /// pending stop commands, counters and the local addresses are kept.
    pub(crate) fn reload(&mut self, config: ServerConfig, local: Option<Vec<IpAddr>>) -> Result<(), ConfError> {
        let (mut doors, mut rotating, one_time) = build_doors(&config, self.max_attempts, &self.used)?;
        doors.set_local_addresses(local.clone());
        rotating.set_local_addresses(local);
        self.config = config;
        self.set_runner_doors();
        self.doors = doors;
        self.rotating = rotating;
        self.follow_windows(0);
        self.one_time = one_time;
        self.filter_changed = true;
        self.log_disabled_doors();
        Ok(())
    }

    fn log_disabled_doors(&mut self) {
        for spec in self.rotating.specs() {
            let name = self.config.doors.get(spec.door).map_or("?", |d| d.name.as_str());
            let line = format!(
                "{name}: rotating door, {} user(s), windows of {} s, {} window(s) of skew",
                spec.users.len(),
                spec.rotation.step,
                spec.skew
            );
            self.log.important(&line);
        }
        for (index, door) in self.config.doors.iter().enumerate() {
            if matches!(door.sequence, SequenceSource::Rotating(_)) {
                continue;
            }
            if self.doors.spec(index).is_some_and(|s| s.sequence.is_none()) {
                self.log.important(&format!(
                    "{}: no sequence left in the one time sequences file: door disabled",
                    door.name
                ));
            }
        }
    }

    pub(crate) fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The addresses of the capture interface (see [`Doors::set_local_addresses`]).
    pub(crate) fn set_local_addresses(&mut self, local: Option<Vec<IpAddr>>) {
        self.doors.set_local_addresses(local.clone());
        self.rotating.set_local_addresses(local);
    }

    pub(crate) fn attempts(&self) -> usize {
        self.doors.attempts() + self.rotating.attempts()
    }

    /// The counters, with the commands' and the log's.
    pub fn counters(&self) -> AllCounters {
        AllCounters {
            server: self.counters,
            actions: self.actions.counters,
            running: self.actions.running(),
            log_suppressed: self.log.suppressed_total,
            spa: self.spa.as_ref().map(|spa| spa.counters),
        }
    }

    /// Runs the stop commands that are due and logs commands that finished.
    pub(crate) fn poll_actions(&mut self) {
        self.actions.poll(&mut self.log, std::time::Instant::now());
    }

    /// When the next scheduled command is due.
    pub(crate) fn next_action_due(&self) -> Option<std::time::Instant> {
        self.actions.next_due()
    }

    /// One captured frame at `now` (milliseconds on the server's clock).
    pub(crate) fn handle_frame(&mut self, link: LinkType, frame: &[u8], now: Millis) {
        self.counters.packets += 1;
        self.follow_windows(now);
        match packet::parse(link, frame) {
            // Packets to a door's port and protocol are hits; others matter only to the sweep guard, when
            // their source has an attempt in progress (IPv6 with extension headers passes the capture
            // filter whatever its port).
            Parsed::Hit(hit) => {
                if hit.protocol == Protocol::Udp
                    && let Some(spa) = self.spa.as_mut()
                    && hit.port == spa.port()
                {
                    let unix = if self.capture_clock {
                        now / 1000
                    } else {
                        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
                    };
                    match packet::udp_payload(link, frame) {
                        Some(payload) => spa.handle(hit.src, hit.dst, payload, unix, &mut self.actions, &mut self.log),
                        None => spa.counters.not_spa += 1,
                    }
                }
                let (static_port, rotating_port) = (
                    self.doors.is_door_port(hit.port, hit.protocol),
                    self.rotating.is_door_port(hit.port, hit.protocol),
                );
                if static_port || rotating_port {
                    self.counters.hits += 1;
                } else {
                    self.counters.not_knock += 1;
                }
                if static_port || self.doors.may_be_stray(&hit) {
                    self.doors.on_hit(&hit, now, &mut self.events);
                }
                if rotating_port || self.rotating.may_be_stray(&hit) {
                    self.rotating.on_hit(&hit, now, &mut self.events);
                }
                if !self.events.is_empty() {
                    self.flush_events();
                }
            }
            Parsed::NotKnock => self.counters.not_knock += 1,
            Parsed::Fragment => self.counters.fragments += 1,
            Parsed::Malformed(_) => self.counters.malformed += 1,
        }
    }

    /// Expires attempts whose timeout passed. Nothing changes within one millisecond, so a second call
    /// with the same `now` (a replay asks before every packet) returns at once.
    pub(crate) fn tick(&mut self, now: Millis) {
        if self.last_tick == Some(now) {
            return;
        }
        self.last_tick = Some(now);
        self.follow_windows(now);
        self.doors.tick(now, &mut self.events);
        self.rotating.tick(now, &mut self.events);
        self.flush_events();
    }

    pub(crate) fn next_deadline(&self) -> Option<Millis> {
        match (self.doors.next_deadline(), self.rotating.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// True once after a door's sequence changed (the capture filter must be rebuilt).
    pub(crate) fn take_filter_changed(&mut self) -> bool {
        std::mem::take(&mut self.filter_changed)
    }

    fn flush_events(&mut self) {
        let events = std::mem::take(&mut self.events);
        for event in &events {
            self.on_event(*event);
        }
        self.events = events;
        self.events.clear();
    }

    fn door_name(&self, door: usize) -> &str {
        self.config.doors.get(door).map_or("?", |d| d.name.as_str())
    }

    fn on_event(&mut self, event: Event) {
        // Per-packet lines borrow the door's name from the configuration (a field apart from the log):
        // under a flood nothing is allocated for a line the rate limit drops.
        match event {
            Event::Stage { src, door, stage } => {
                self.counters.stages += 1;
                let name = name_of(&self.config, door);
                self.log.packet(|| format!("{src}: {name}: Stage {stage}"));
            }
            Event::Open { src, door } => {
                self.counters.opened += 1;
                self.open(src, door);
            }
            Event::OpenAs { src, door, user, window } => self.open_as(src, door, user, window),
            Event::Rejected { src, door, stage, reason } => {
                let penalty_ms = self.penalty_ms(door);
                let name = name_of(&self.config, door);
                match reason {
                    // No port is ever logged: the expected hit tells the sequence, and so does the hit that
                    // came (a static door's own ports are the only ones that reach this arm without the
                    // guard; a rotating door's belong to some user's current sequence).
                    Reason::WrongHit { .. } => {
                        self.counters.wrong_hits += 1;
                        self.log.packet(|| {
                            format!(
                                "{src}: {name}: wrong hit at stage {}: attempt reset{}",
                                stage + 1,
                                note(penalty_ms)
                            )
                        });
                    }
                    Reason::Stray => {
                        self.counters.wrong_hits += 1;
                        self.log.packet(|| {
                            format!(
                                "{src}: {name}: stray hit at stage {} (another port of this host): attempt reset{}",
                                stage + 1,
                                note(penalty_ms)
                            )
                        });
                    }
                    Reason::Timeout => {
                        self.counters.timeouts += 1;
                        self.log.packet(|| format!("{src}: {name}: sequence timeout (stage {stage})"));
                    }
                    Reason::Evicted => {
                        self.counters.evicted += 1;
                        self.log
                            .packet(|| format!("{src}: {name}: attempt evicted at stage {stage}: state table full"));
                    }
                }
            }
            Event::Penalised { .. } => self.counters.penalised += 1,
            Event::FlagsIgnored { src, door, stage, flags } => {
                self.counters.flags_ignored += 1;
                let name = self.door_name(door).to_owned();
                let wanted =
                    self.config.doors.get(door).and_then(|d| d.tcp_flags).map(|f| f.to_string()).unwrap_or_default();
                self.log.packet(|| {
                    format!(
                        "{src}: {name}: TCP flags {flags} do not match TCPFlags {wanted} at stage {}: hit ignored",
                        stage + 1
                    )
                });
            }
        }
    }

    /// The sweep-guard penalty of a door, if it has one.
    fn penalty_ms(&self, door: usize) -> Option<Millis> {
        self.config.doors.get(door).and_then(|d| d.sweep_guard).map(|g| g.penalty_ms).filter(|ms| *ms > 0)
    }

    /// A rotating sequence completed: it opens only if its window comes after the last one its user
    /// used (one use per user and window, whatever the source), and only once that use is recorded
    /// durably (see [`crate::rotating_used`]).
    fn open_as(&mut self, src: IpAddr, door: usize, user: u32, window: u64) {
        let (Some(config), Some(user)) = (self.config.doors.get(door), self.rotating.user_name(door, user)) else {
            return;
        };
        if let Some(last) = self.used_windows.last(&config.name, user)
            && window <= last
        {
            // Replays are the common case under a replay flood: nothing is allocated unless logged.
            let (name, user) = (&config.name, user);
            self.counters.replays += 1;
            self.log.noise(name, Noise::Replay, src, || {
                vec![format!(
                    "{src}: {name}: replay refused: user {user} already used window {window} (windows up to {last} \
                     are spent)"
                )]
            });
            return;
        }
        let config = config.clone();
        let user = user.to_owned();
        let name = &config.name;
        if let Err(err) = self.used_windows.record(name, &user, window) {
            let state = self.used_windows.path().map(|p| p.display().to_string()).unwrap_or_default();
            self.log.state(name, || {
                format!(
                    "{src}: {name}: cannot record user {user}'s use of window {window} in {state}: {err}: not \
                     opened (a use a restart forgets could be replayed)"
                )
            });
            return;
        }
        self.counters.opened += 1;
        let how = format!(" (user {user}, window {window})");
        self.actions.open(&mut self.log, &config, src, &how, Instant::now());
    }

    fn open(&mut self, src: IpAddr, door: usize) {
        let Some(config) = self.config.doors.get(door).cloned() else { return };
        // Logs `IP: DOOR: OPEN SESAME` as a state change or as noise (an extension), see crate::actions.
        self.actions.open(&mut self.log, &config, src, "", Instant::now());
        self.consume_one_time(door, &config);
    }

    /// After a one-time sequence opened the door: record it as used (state file, then the sequence
    /// file, see [`crate::one_time`]), then arm the next one.
    fn consume_one_time(&mut self, door: usize, config: &DoorConfig) {
        let Some(Some(state)) = self.one_time.get_mut(door) else { return };
        if state.remaining.is_empty() {
            return;
        }
        let used = state.remaining.remove(0);
        let recorded = self.used.record(&state.path, &used);
        let marked = one_time::mark_used(&state.path, &used);
        let name = &config.name;
        let file = state.path.display().to_string();
        let state_file = self.used.path().map(|p| p.display().to_string());
        match (&recorded, &marked, &state_file) {
            (Ok(()), Ok(_), _) => {}
            (Ok(()), Err(err), Some(state_file)) => self.log.event(|| {
                format!("{name}: cannot mark the used sequence in {file}: {err}: it stays refused (recorded in {state_file})")
            }),
            (Err(err), Ok(_), Some(state_file)) => self.log.event(|| {
                format!("{name}: cannot record the used sequence in {state_file}: {err}: it is marked in {file} only")
            }),
            _ => {
                // Neither place could keep it: never reuse a sequence, disable the door until a reload.
                let why = [recorded.err().map(|e| e.to_string()), marked.err().map(|e| e.to_string())]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("; ");
                self.log.event(|| {
                    format!(
                        "{name}: cannot mark the used sequence in {file} ({why}) and no state directory keeps it \
                         (--state-dir): door disabled"
                    )
                });
                state.remaining.clear();
            }
        }
        let next = state.remaining.first().map(|s| s.hits().to_vec());
        // The capture filter is not changed: it already passes every sequence left in the file (see
        // `filter_hits`). Changing it here would drain the capture while the user's next knock is in flight.
        if next.is_none() {
            self.log.event(|| {
                format!("no more sequences left in the one time sequences file for door {name} --> disabling the door")
            });
        }
        self.doors.set_sequence(door, next);
    }

    /// The hits the capture filter must pass for each static door: its sequence, and for a door of one-time
    /// sequences every sequence left in its file, so that using one never needs a new filter. A filter
    /// set after the opening would come one batch late: the next sequence's first hits (a protocol the
    /// used one lacked, say) would not have been captured, and libpcap drains the socket while it swaps.
    fn filter_hits(&self) -> impl Iterator<Item = (&DoorSpec, Vec<Hit>)> {
        self.doors.specs().enumerate().map(|(index, spec)| {
            let hits = match self.one_time.get(index) {
                Some(Some(state)) => state.remaining.iter().flat_map(|s| s.hits().iter().copied()).collect(),
                _ => spec.sequence.clone().unwrap_or_default(),
            };
            (spec, hits)
        })
    }

    /// A BPF filter passing only packets that can be hits of some door: TCP/UDP to the doors' ports, and
    /// IPv6 packets with extension headers (BPF cannot follow them; the parser does).
    pub(crate) fn bpf_filter(&self) -> String {
        let mut tcp: Vec<u16> = Vec::new();
        let mut udp: Vec<u16> = Vec::new();
        for (_, hits) in self.filter_hits() {
            for hit in &hits {
                let list = if hit.protocol == Protocol::Tcp { &mut tcp } else { &mut udp };
                if !list.contains(&hit.port) {
                    list.push(hit.port);
                }
            }
        }
        if let Some(spa) = &self.spa
            && !udp.contains(&spa.port())
        {
            udp.push(spa.port());
        }
        let mut ranges: Vec<String> = Vec::new();
        for (spec, hits) in self.rotating.ports() {
            let count = |protocol| hits.iter().filter(|h| h.protocol == protocol).count();
            let (lo, hi) = spec.rotation.range;
            for (protocol, list) in [(Protocol::Tcp, &mut tcp), (Protocol::Udp, &mut udp)] {
                if list.len() + count(protocol) > MAX_FILTER_PORTS {
                    if count(protocol) > 0 {
                        ranges.push(format!("({} dst portrange {lo}-{hi})", protocol.as_str()));
                    }
                    continue;
                }
                for hit in hits.iter().filter(|h| h.protocol == protocol) {
                    if !list.contains(&hit.port) {
                        list.push(hit.port);
                    }
                }
            }
        }
        ranges.extend(self.guard_filter());
        tcp.sort_unstable();
        udp.sort_unstable();
        let ports = |ports: &[u16]| ports.iter().map(u16::to_string).collect::<Vec<_>>().join(" or ");
        let mut parts = ranges;
        if !tcp.is_empty() {
            parts.push(format!("(tcp dst port ({}))", ports(&tcp)));
        }
        if !udp.is_empty() {
            parts.push(format!("(udp dst port ({}))", ports(&udp)));
        }
        if parts.is_empty() {
            // Every door is disabled: capture nothing ("less 1": no frame is that short; libpcap refuses
            // a filter it can prove rejects everything).
            return "less 1".to_owned();
        }
        // IPv6 extension headers: BPF cannot follow them, the parser does. libpcap's `ip6 proto 6` also
        // matches "fragment header, then TCP", so fragments (next header 44) are passed explicitly.
        parts.push("(ip6 and not ip6 proto 6 and not ip6 proto 17 and not icmp6)".to_owned());
        parts.push("(ip6 and ip6[6] == 44)".to_owned());
        parts.join(" or ")
    }

    /// The capture filter's parts for the sweep guard: new flows (TCP SYNs without ACK, UDP datagrams)
    /// to every port for guarded static doors, to their range for guarded rotating doors, each for the
    /// protocols the doors use; public ports are left out where that keeps the filter small.
    fn guard_filter(&self) -> Vec<String> {
        // libpcap cannot index TCP flags behind an IPv6 header (`tcp[13]`), so IPv6 reads them at the
        // fixed offset of a TCP header that follows the IPv6 header directly.
        const SYN_ONLY: &str = "((ip and tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn) or (ip6 and ip6[6] == 6 and ip6[53] & 0x12 == 0x02))";
        let public = PortSet::new(&self.config.options.public_ports);
        let not_public = |protocol: Protocol| {
            let ranges = port_ranges(&public.ports(protocol));
            if ranges.is_empty() || ranges.len() > MAX_PUBLIC_RANGES_IN_FILTER {
                return String::new();
            }
            let ranges: Vec<String> = ranges
                .iter()
                .map(|&(lo, hi)| {
                    let p = protocol.as_str();
                    if lo == hi { format!("{p} dst port {lo}") } else { format!("{p} dst portrange {lo}-{hi}") }
                })
                .collect();
            format!(" and not ({})", ranges.join(" or "))
        };
        let mut parts = Vec::new();
        let (mut tcp, mut udp) = (false, false);
        for (_, hits) in self.filter_hits().filter(|(spec, _)| spec.guard.is_some()) {
            let scope = crate::sweep_guard::Scope::of_hits(&hits);
            tcp |= scope.tcp;
            udp |= scope.udp;
        }
        if tcp {
            parts.push(format!("(tcp and {SYN_ONLY}{})", not_public(Protocol::Tcp)));
        }
        if udp {
            parts.push(format!("(udp{})", not_public(Protocol::Udp)));
        }
        for spec in self.rotating.specs() {
            let Some(scope) = spec.guard_scope() else { continue };
            let (lo, hi) = spec.rotation.range;
            if scope.tcp && !tcp {
                parts.push(format!("(tcp dst portrange {lo}-{hi} and {SYN_ONLY})"));
            }
            if scope.udp && !udp {
                parts.push(format!("(udp dst portrange {lo}-{hi})"));
            }
        }
        parts
    }

    pub(crate) fn shutdown(&mut self, wait: Duration) {
        self.actions.shutdown(&mut self.log, wait);
    }
}

/// Above this many ranges of public ports per protocol, the capture filter passes them and the server
/// drops them itself (each range costs BPF instructions).
const MAX_PUBLIC_RANGES_IN_FILTER: usize = 32;

/// Sorted ports as inclusive ranges of consecutive ports.
fn port_ranges(ports: &[u16]) -> Vec<(u16, u16)> {
    let mut ranges: Vec<(u16, u16)> = Vec::new();
    for &port in ports {
        match ranges.last_mut() {
            Some((_, hi)) if hi.checked_add(1) == Some(port) => *hi = port,
            _ => ranges.push((port, port)),
        }
    }
    ranges
}

/// A door's name, borrowed from the configuration ("?" for an index it does not have).
fn name_of(config: &ServerConfig, door: usize) -> &str {
    config.doors.get(door).map_or("?", |d| d.name.as_str())
}

/// How a reset line ends: with the penalty the source now waits, if the door has one.
fn note(penalty_ms: Option<Millis>) -> String {
    penalty_ms.map(|ms| format!("; knocks from this address ignored for {ms} ms")).unwrap_or_default()
}

/// The doors of a configuration, with one-time sequence files and rotating key files read. A rotating
/// door is disabled in [`Doors`] and lives in [`RotatingDoors`].
fn build_doors(
    config: &ServerConfig,
    max_attempts: usize,
    used: &UsedSequences,
) -> Result<(Doors, RotatingDoors, Vec<Option<OneTime>>), ConfError> {
    let mut specs = Vec::new();
    let mut rotating = Vec::new();
    let mut one_time = Vec::new();
    for (index, door) in config.doors.iter().enumerate() {
        let (sequence, state) = match &door.sequence {
            SequenceSource::Rotating(settings) => {
                rotating.push(RotatingSpec {
                    door: index,
                    rotation: settings.rotation.clone(),
                    skew: settings.skew,
                    users: rotating_keys::read(&settings.keys)?,
                    timeout_ms: u64::try_from(door.seq_timeout.as_millis()).unwrap_or(u64::MAX),
                    flags: door.tcp_flags,
                    target: door.target,
                    guard: door.sweep_guard,
                });
                (None, None)
            }
            SequenceSource::Fixed(sequence) => (Some(sequence.hits().to_vec()), None),
            SequenceSource::OneTime(path) => {
                let remaining = one_time::read_remaining(path, used)?;
                let first = remaining.first().map(|s| s.hits().to_vec());
                (first, Some(OneTime { path: path.clone(), remaining }))
            }
        };
        specs.push(spec(door, sequence));
        one_time.push(state);
    }
    let public = PortSet::new(&config.options.public_ports);
    Ok((Doors::new(specs, max_attempts, public.clone()), RotatingDoors::new(rotating, max_attempts, public), one_time))
}

fn spec(door: &DoorConfig, sequence: Option<Vec<Hit>>) -> DoorSpec {
    DoorSpec {
        name: door.name.clone(),
        sequence,
        timeout_ms: u64::try_from(door.seq_timeout.as_millis()).unwrap_or(u64::MAX),
        flags: door.tcp_flags,
        target: door.target,
        guard: door.sweep_guard,
    }
}

/// Every counter, as printed on SIGUSR1 and at exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllCounters {
    pub server: Counters,
    pub actions: ActionCounters,
    /// Commands running now.
    pub running: usize,
    /// Log lines dropped by the rate limit.
    pub log_suppressed: u64,
    /// The SPA door's, when it runs.
    pub spa: Option<SpaCounters>,
}

impl fmt::Display for AllCounters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = &self.actions;
        write!(
            f,
            "{}, commands_started {}, commands_failed {}, commands_refused {}, openings_extended {}, \
             commands_running {}, commands_peak {}, log_suppressed {}",
            self.server, a.started, a.failed, a.refused, a.extended, self.running, a.peak, self.log_suppressed
        )?;
        if let Some(spa) = &self.spa {
            write!(
                f,
                ", spa_packets {}, spa_not_spa {}, spa_refused {}, spa_replays {}, spa_opened {}",
                spa.packets, spa.not_spa, spa.refused, spa.replays, spa.opened
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "packets {}, hits {}, not_knock {}, fragments {}, malformed {}, stages {}, opened {}, wrong_hits {}, \
             timeouts {}, flags_ignored {}, evicted {}, replays {}, penalised {}",
            self.packets,
            self.hits,
            self.not_knock,
            self.fragments,
            self.malformed,
            self.stages,
            self.opened,
            self.wrong_hits,
            self.timeouts,
            self.flags_ignored,
            self.evicted,
            self.replays,
            self.penalised
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const ALICE: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    const BOB: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA";

    fn write_keys(path: &std::path::Path, text: &str) {
        std::fs::write(path, text).expect("keys");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }

    /// An Ethernet frame from 198.51.100.1 (or 2001:db8::1) to `port`: TCP with `flags`, or UDP.
    fn frame(ipv6: bool, port: u16, tcp_flags: Option<&str>) -> Vec<u8> {
        let builder = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
        let builder = if ipv6 {
            builder.ipv6(
                [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
                64,
            )
        } else {
            builder.ipv4([198, 51, 100, 1], [192, 0, 2, 2], 64)
        };
        let mut out = Vec::new();
        match tcp_flags {
            Some(flags) => {
                let mut tcp = builder.tcp(40000, port, 1, 1024);
                if flags.contains("syn") {
                    tcp = tcp.syn();
                }
                if flags.contains("ack") {
                    tcp = tcp.ack(1);
                }
                tcp.write(&mut out, &[]).expect("tcp frame");
            }
            None => builder.udp(40000, port).write(&mut out, &[0]).expect("udp frame"),
        }
        out
    }

    #[test]
    fn the_capture_filter_passes_new_flows_for_the_sweep_guard_and_leaves_out_public_ports() {
        let dir = tempfile::tempdir().expect("dir");
        let conf = dir.path().join("knockd.conf");
        let filter_of = |text: &str| {
            std::fs::write(&conf, text).expect("conf");
            let log = Logger::new(None, false, false).expect("log");
            let server = Server::new(crate::config::load(&conf).expect("config"), ServerOptions::default(), log)
                .expect("server");
            let filter = server.bpf_filter();
            let program = pcap::Capture::dead(pcap::Linktype::ETHERNET)
                .and_then(|c| c.compile(&filter, true))
                .unwrap_or_else(|e| panic!("{filter}: {e}"));
            move |frame: &[u8]| program.filter(frame)
        };
        let guarded = filter_of("[options]\n Public_Ports = 80,443,53:udp\n[d]\n Sequence = 7000,8000:udp,9000\n");
        for ipv6 in [false, true] {
            let case = |port, flags| (ipv6, port, flags);
            for (ipv6, port, flags) in [case(1234, Some("syn")), case(7000, Some("syn,ack")), case(5000, None)] {
                assert!(guarded(&frame(ipv6, port, flags)), "ipv6 {ipv6}, {port} {flags:?} must pass");
            }
            for (ipv6, port, flags) in
                [case(1234, Some("syn,ack")), case(1234, Some("ack")), case(443, Some("syn")), case(53, None)]
            {
                assert!(!guarded(&frame(ipv6, port, flags)), "ipv6 {ipv6}, {port} {flags:?} must not pass");
            }
        }
        let off = filter_of("[d]\n Sequence = 7000,8000:udp,9000\n Sweep_Guard = off\n");
        assert!(!off(&frame(false, 1234, Some("syn"))) && off(&frame(false, 7000, Some("syn"))));
        let rotating_keys = dir.path().join("keys");
        write_keys(&rotating_keys, &format!("alice {ALICE}\n"));
        let rotating =
            filter_of(&format!("[r]\n Rotating_Keys = {}\n Rotating_Range = 20000-29999\n", rotating_keys.display()));
        assert!(rotating(&frame(true, 25000, Some("syn"))) && !rotating(&frame(false, 30000, Some("syn"))));
        assert!(!rotating(&frame(false, 25000, None)), "a TCP-only rotating door does not watch UDP");
    }

    /// A used one-time sequence must not need a new capture filter: one set after the opening comes a batch
    /// late, and libpcap drains the capture while it swaps, so the next sequence's hits would be lost
    /// (the lab saw "wrong hit at stage 2" when the next sequence's UDP hit was not yet captured).
    #[test]
    fn the_capture_filter_passes_every_one_time_sequence_left_and_stays_when_one_is_used() {
        let dir = tempfile::tempdir().expect("dir");
        let (conf, file) = (dir.path().join("knockd.conf"), dir.path().join("one-time"));
        for guard in ["on", "off"] {
            std::fs::write(&file, "7000,8000,9000\n7100,8100:udp,9100\n").expect("one-time file");
            std::fs::write(&conf, format!("[otp]\n One_Time_Sequences = {}\n Sweep_Guard = {guard}\n", file.display()))
                .expect("conf");
            let log = Logger::new(None, false, false).expect("log");
            let mut server = Server::new(crate::config::load(&conf).expect("config"), ServerOptions::default(), log)
                .expect("server");
            let passes = |server: &Server, port, flags| {
                let program = pcap::Capture::dead(pcap::Linktype::ETHERNET)
                    .and_then(|c| c.compile(&server.bpf_filter(), true))
                    .expect("filter");
                program.filter(&frame(false, port, flags))
            };
            assert!(passes(&server, 8100, None), "guard {guard}: the next sequence's UDP hit passes from the start");
            assert!(passes(&server, 9100, Some("syn")), "guard {guard}");
            server.take_filter_changed();
            let open = server.doors.specs().position(|s| s.name == "otp").expect("door");
            server.consume_one_time(open, &server.config.doors[open].clone());
            assert!(!server.take_filter_changed(), "guard {guard}: using a sequence needs no new filter");
            assert!(passes(&server, 8100, None), "guard {guard}");
        }
    }

    #[test]
    fn the_capture_filter_follows_a_reload_of_the_key_file() {
        let dir = tempfile::tempdir().expect("dir");
        let keys = dir.path().join("keys");
        let conf = dir.path().join("knockd.conf");
        write_keys(&keys, &format!("alice {ALICE}\nbob {BOB}\n"));
        std::fs::write(&conf, format!("[ssh]\n Rotating_Keys = {}\n Rotating_Range = 20000-29999\n", keys.display()))
            .expect("conf");
        let log = Logger::new(None, false, false).expect("log");
        let config = crate::config::load(&conf).expect("config");
        let mut server = Server::new(config, ServerOptions::default(), log).expect("server");
        let both = server.bpf_filter();
        write_keys(&keys, &format!("alice {ALICE}\n"));
        server.reload(crate::config::load(&conf).expect("config"), None).expect("reload");
        assert!(server.take_filter_changed());
        let alice = server.bpf_filter();
        assert_ne!(both, alice);
        assert!(alice.len() < both.len(), "{alice}\n{both}");
        let compiles =
            |filter: &str| pcap::Capture::dead(pcap::Linktype::ETHERNET).and_then(|c| c.compile(filter, true)).is_ok();
        assert!(compiles(&alice), "{alice}");
        assert!(!alice.contains("(tcp dst portrange 20000-29999)"), "2 users: the exact ports\n{alice}");
        assert!(
            alice.contains("(tcp dst portrange 20000-29999 and ((ip and tcp[tcpflags]"),
            "the sweep guard\n{alice}"
        );
        // 1,000 users: thousands of ports; the filter passes the door's range instead, and compiles.
        let many: String = (0..1000u32)
            .map(|i| {
                let bytes: Vec<u8> =
                    (0..20u8).map(|b| b.wrapping_mul(31).wrapping_add(i as u8) ^ (i >> 8) as u8).collect();
                format!("user{i} {}\n", client_core::rotating::DoorKey::from_bytes(bytes).expect("key").to_base32())
            })
            .collect();
        write_keys(&keys, &many);
        server.reload(crate::config::load(&conf).expect("config"), None).expect("reload");
        let filter = server.bpf_filter();
        assert!(filter.contains("(tcp dst portrange 20000-29999)") && compiles(&filter), "{filter}");
    }
}
