//! knockd.conf doors turned into client profiles, so a server's existing config need not be retyped.
//!
//! knockd admins usually pair an opening door with a closing one (`[openSSH]` / `[closeSSH]`); a profile
//! holds both sequences, so each pair becomes one profile and every other door a profile of its own. Only
//! what the client sends is carried over (the sequence with its protocols, and TCP flags); timeouts and
//! commands are server-side and reported as such.
//!
//! Never guess: a door whose meaning is unclear (a key knockd does not know, a bad value, no sequence, a
//! One_Time_Sequences file whose sequence changes after every knock) is skipped with its reason and line,
//! and every other door is still imported.

use std::collections::HashSet;
use std::fmt;
use std::net::Ipv6Addr;

use crate::knockd_conf::{KnockdConf, Section};
use crate::profile::{Profile, ProfileKind, SequenceKnock, validate_name};
use crate::sequence::{Protocol, Sequence, TcpFlagSpec, TcpFlags};

use super::{Mapped, Note};

/// What an import produced: the profiles, and the doors it could not turn into one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KnockdImport {
    pub profiles: Vec<ImportedProfile>,
    pub skipped: Vec<SkippedDoor>,
}

/// One profile made from one door or an open/close pair of doors.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ImportedProfile {
    /// A valid profile name ([`validate_name`]), unique within this import.
    pub name: String,
    pub profile: Profile,
    /// The knockd section names used, the opening door first.
    pub doors: Vec<String>,
    /// The line of the first door's `[name]` header.
    pub line: usize,
    /// What each directive of the doors became (never a sequence: sequences are secrets).
    pub mapped: Vec<Mapped>,
    /// Things the user should check (flags that differ between the doors, a Target, ...).
    pub warnings: Vec<String>,
}

/// A door that was left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SkippedDoor {
    pub door: String,
    /// The line of the door's `[name]` header.
    pub line: usize,
    /// The line the reason is about, when it is one directive.
    pub at: Option<usize>,
    pub reason: String,
}

impl fmt::Display for SkippedDoor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: door [{}] skipped: {}", self.at.unwrap_or(self.line), self.door, self.reason)
    }
}

/// Turns the doors of `conf` into profiles that knock `host` (already checked by the caller).
pub(crate) fn profiles_from_knockd_conf(conf: &KnockdConf, host: &str) -> KnockdImport {
    let host = host.trim();
    let mut skipped = Vec::new();
    let mut doors = Vec::new();
    for section in &conf.doors {
        match Door::read(section) {
            Ok(door) => doors.push(door),
            Err((at, reason)) => {
                skipped.push(SkippedDoor { door: section.name.clone(), line: section.line, at, reason })
            }
        }
    }
    let mut taken = HashSet::new();
    let mut profiles = Vec::new();
    for group in pair(&doors) {
        match group.import(host, &mut taken) {
            Ok(profile) => profiles.push(profile),
            Err(reason) => skipped.extend(group.doors().map(|door| SkippedDoor {
                door: door.section.name.clone(),
                line: door.section.line,
                at: None,
                reason: reason.to_string(),
            })),
        }
    }
    skipped.sort_by_key(|door| door.line);
    KnockdImport { profiles, skipped }
}

/// Notes about `[options]`: nothing there concerns a client, but unknown keys are worth a word.
pub(crate) fn option_notes(conf: &KnockdConf) -> Vec<Note> {
    let Some(options) = &conf.options else { return Vec::new() };
    options
        .unknown_keys()
        .map(|entry| Note {
            line: Some(entry.line),
            message: format!("[options]: {} is not a knockd option (knockd refuses this file)", entry.key),
        })
        .collect()
}

/// What a door's name says it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Open,
    Close,
    Start,
    Stop,
    /// `[opencloseSSH]`: one knock opens, and the stop command closes after Cmd_Timeout.
    OpenClose,
}

impl Role {
    const WORDS: [(&'static str, Role); 4] =
        [("open", Role::Open), ("close", Role::Close), ("start", Role::Start), ("stop", Role::Stop)];

    fn partner(self) -> Option<Role> {
        match self {
            Role::Open => Some(Role::Close),
            Role::Close => Some(Role::Open),
            Role::Start => Some(Role::Stop),
            Role::Stop => Some(Role::Start),
            Role::OpenClose => None,
        }
    }

    fn opens(self) -> bool {
        matches!(self, Role::Open | Role::Start | Role::OpenClose)
    }
}

const SEPARATORS: [char; 4] = ['-', '_', '.', ' '];

/// A door name split into its role word and the rest (the "stem": `SSH` in `openSSH`, `ssh-close`,
/// `open_ssh`). `bounded` says the role word visibly ends where the stem starts (a separator, a capital
/// letter or digit, or nothing), so that `[opener]` alone is not read as "open er".
#[derive(Debug, Clone, PartialEq, Eq)]
struct DoorName {
    role: Option<Role>,
    /// Profile-name form of the stem; empty for `[open]` / `[close]`.
    stem: String,
    bounded: bool,
}

impl DoorName {
    fn parse(name: &str) -> DoorName {
        let lower = name.to_ascii_lowercase();
        let from_prefix = |word_len: usize, role: Role| {
            let rest = name.get(word_len..).unwrap_or_default();
            DoorName {
                role: Some(role),
                stem: profile_name(rest).unwrap_or_default(),
                bounded: rest
                    .chars()
                    .next()
                    .is_none_or(|c| SEPARATORS.contains(&c) || c.is_ascii_uppercase() || c.is_ascii_digit()),
            }
        };
        if let Some(after_open) = lower.strip_prefix("open") {
            let after_sep = after_open.trim_start_matches(SEPARATORS);
            if after_sep.starts_with("close") {
                return from_prefix(lower.len() - after_sep.len() + "close".len(), Role::OpenClose);
            }
        }
        for (word, role) in Role::WORDS {
            if lower.starts_with(word) {
                return from_prefix(word.len(), role);
            }
        }
        for (word, role) in Role::WORDS {
            if let Some(stem) = lower.strip_suffix(word)
                && stem.ends_with(SEPARATORS)
            {
                return DoorName { role: Some(role), stem: profile_name(stem).unwrap_or_default(), bounded: true };
            }
        }
        DoorName { role: None, stem: String::new(), bounded: false }
    }

    fn pairs_with(&self, other: &DoorName) -> bool {
        let partner = self.role.and_then(Role::partner);
        partner.is_some() && partner == other.role && self.stem == other.stem
    }
}

/// A door that can be knocked with a fixed sequence.
#[derive(Debug)]
struct Door<'a> {
    section: &'a Section,
    sequence: Sequence,
    flags: Option<TcpFlagSpec>,
    name: DoorName,
}

impl<'a> Door<'a> {
    /// The door, or why it is skipped (with the line of the directive at fault, when there is one).
    fn read(section: &'a Section) -> Result<Door<'a>, (Option<usize>, String)> {
        if let Some(entry) = section.unknown_keys().next() {
            return Err((
                Some(entry.line),
                format!(
                    "{} is not a knockd directive (knockd refuses this file); the door is skipped rather than \
                     guessed at (valid: {})",
                    entry.key,
                    crate::knockd_conf::DOOR_KEYS.join(", ")
                ),
            ));
        }
        if let Some(entry) = section.get("One_Time_Sequences") {
            return Err((
                Some(entry.line),
                "it uses One_Time_Sequences, so its sequence changes after every knock; a profile holds a \
                 fixed sequence"
                    .to_owned(),
            ));
        }
        let conf_error = |err: crate::knockd_conf::ConfError| (err.line(), err.to_string());
        // The syntax layer quotes the bad item; a sequence is a secret, so its error says where, not what.
        let sequence_error = |err: crate::knockd_conf::ConfError| {
            (
                err.line(),
                format!(
                    "{} is not a valid knockd sequence (the value is not shown: sequences are secrets): write \
                     PORT[:tcp|udp] hits, ports 1-65535, separated by commas, at most {}; \
                     `knock-server --check -c FILE` names the item",
                    err.key().unwrap_or("Sequence"),
                    crate::knockd_conf::MAX_SEQUENCE_HITS
                ),
            )
        };
        let sequence = section.sequence().map_err(sequence_error)?.ok_or_else(|| {
            (None, "it has neither Sequence nor One_Time_Sequences: add e.g. Sequence = 7000,8000,9000".to_owned())
        })?;
        let flags = section.tcp_flags().map_err(conf_error)?;
        Ok(Door { section, sequence, flags, name: DoorName::parse(&section.name) })
    }

    fn has_tcp_hit(&self) -> bool {
        self.sequence.hits().iter().any(|hit| hit.protocol == Protocol::Tcp)
    }
}

/// The doors of one profile: `open` is the opening door, or the only one.
struct Group<'d, 'a> {
    open: &'d Door<'a>,
    close: Option<&'d Door<'a>>,
}

/// Pairs opening and closing doors, in file order of the first door of each group.
fn pair<'d, 'a>(doors: &'d [Door<'a>]) -> Vec<Group<'d, 'a>> {
    let mut used = vec![false; doors.len()];
    let mut groups = Vec::new();
    for (i, door) in doors.iter().enumerate() {
        if used[i] {
            continue;
        }
        used[i] = true;
        let partner = (0..doors.len()).find(|&j| !used[j] && door.name.pairs_with(&doors[j].name));
        let group = match partner {
            None => Group { open: door, close: None },
            Some(j) => {
                used[j] = true;
                let other = &doors[j];
                if door.name.role.is_some_and(Role::opens) {
                    Group { open: door, close: Some(other) }
                } else {
                    Group { open: other, close: Some(door) }
                }
            }
        };
        groups.push(group);
    }
    groups
}

impl<'d, 'a> Group<'d, 'a> {
    fn doors(&self) -> impl Iterator<Item = &'d Door<'a>> + use<'d, 'a> {
        std::iter::once(self.open).chain(self.close)
    }

    fn import(&self, host: &str, taken: &mut HashSet<String>) -> Result<ImportedProfile, NoSendableFlags> {
        let mut warnings = Vec::new();
        let tcp_flags = self.tcp_flags(&mut warnings)?;
        warnings.extend(self.doors().flat_map(door_warnings));
        if self.close.is_none() && self.open.name.role.is_some_and(|role| !role.opens()) {
            warnings.push(format!(
                "door [{}] has no matching open door: the profile's open sequence is this door's sequence",
                self.open.section.name
            ));
        }
        let names: Vec<String> = self.doors().map(|door| door.section.name.clone()).collect();
        let mut knock = SequenceKnock::new(self.open.sequence.clone());
        knock.close = self.close.map(|door| door.sequence.clone().into());
        knock.tcp_flags = tcp_flags;
        let mut profile = Profile::with_kind(host, ProfileKind::Sequence(knock));
        profile.notes = format!(
            "imported from knockd.conf door {}",
            names.iter().map(|name| format!("[{name}]")).collect::<Vec<_>>().join(" / ")
        );
        let mapped = self.mapped();
        Ok(ImportedProfile {
            name: unique_name(self.base_name(host), taken),
            profile,
            doors: names,
            line: self.open.section.line,
            mapped,
            warnings,
        })
    }

    /// What each directive of the group's doors became; values are left out (sequences are secrets).
    fn mapped(&self) -> Vec<Mapped> {
        let mut mapped = Vec::new();
        for (door, field) in self.doors().zip(["open", "close"]) {
            for entry in &door.section.entries {
                let to = if entry.is("Sequence") {
                    format!("{field} ({} hits)", door.sequence.len())
                } else if entry.is("TCPFlags") {
                    "tcp_flags".to_owned()
                } else if ["Seq_Timeout", "Timeout"].iter().any(|k| entry.is(k)) {
                    "not carried: the server's time limit for the whole sequence (the client sends at once)".to_owned()
                } else if entry.is("Cmd_Timeout") {
                    "not carried: when the server runs its stop command".to_owned()
                } else if entry.key.to_ascii_lowercase().contains("command") {
                    "not carried: a command the server runs".to_owned()
                } else if entry.is("Target") {
                    "not carried: see the warning".to_owned()
                } else {
                    "not carried: server side".to_owned()
                };
                mapped.push(Mapped {
                    line: Some(entry.line),
                    from: format!("[{}] {}", door.section.name, entry.key),
                    to,
                });
            }
        }
        mapped
    }

    /// The name before de-duplication: the stem of a pair or of a lone opening door, else the door name.
    fn base_name(&self, host: &str) -> String {
        let name = &self.open.name;
        let use_stem = self.close.is_some() || (name.bounded && name.role.is_some_and(Role::opens));
        let from_door = if use_stem {
            Some(name.stem.clone()).filter(|stem| !stem.is_empty())
        } else {
            profile_name(&self.open.section.name)
        };
        from_door.or_else(|| host_name(host)).unwrap_or_else(|| "door".to_owned())
    }

    /// The flags the profile sends: the open door's, or the close door's when only it has TCPFlags (a door
    /// without TCPFlags accepts any). Errors when no TCP packet a client can send would match.
    fn tcp_flags(&self, warnings: &mut Vec<String>) -> Result<TcpFlagSpec, NoSendableFlags> {
        if !self.doors().any(Door::has_tcp_hit) {
            return Ok(TcpFlagSpec::default());
        }
        let spec = self.open.flags.or(self.close.and_then(|door| door.flags)).unwrap_or_default();
        let spec = sendable(spec, warnings)?;
        for door in self.doors() {
            if let Some(wanted) = door.flags
                && !wanted.matches(spec.set)
            {
                warnings.push(format!(
                    "door [{}] expects tcpflags {wanted}, but the profile sends {} (the open door's): \
                     its knock will be ignored unless you change tcp_flags",
                    door.section.name, spec.set
                ));
            }
        }
        if !spec.is_plain_syn() {
            warnings.push(format!(
                "tcpflags {spec} need the raw send method (root or CAP_NET_RAW): connect only sends a plain SYN"
            ));
        }
        Ok(spec)
    }
}

/// Why a door group cannot become a profile: its TCPFlags forbid every flag.
#[derive(Debug, Clone, thiserror::Error)]
#[error("its tcpflags {spec} forbid every flag, and a client cannot send a TCP packet without flags")]
pub(crate) struct NoSendableFlags {
    spec: TcpFlagSpec,
}

/// A spec that only forbids flags (`!ack`) gets a flag to send: SYN when allowed, else the first allowed one.
fn sendable(spec: TcpFlagSpec, warnings: &mut Vec<String>) -> Result<TcpFlagSpec, NoSendableFlags> {
    if !spec.set.is_empty() {
        return Ok(spec);
    }
    let allowed = |flag: &TcpFlags| !spec.clear.contains(*flag);
    let flag = [TcpFlags::SYN]
        .into_iter()
        .chain(TcpFlags::NAMED.iter().map(|(_, flag)| *flag))
        .find(allowed)
        .ok_or(NoSendableFlags { spec })?;
    let chosen = TcpFlagSpec { set: flag, clear: spec.clear };
    warnings.push(format!("tcpflags {spec} set no flag; the profile sends {chosen}"));
    Ok(chosen)
}

fn door_warnings(door: &Door<'_>) -> Vec<String> {
    let section = door.section;
    section
        .get("Target")
        .and_then(|entry| entry.value.as_deref())
        .filter(|t| !t.is_empty())
        .map(|target| {
            format!(
                "line {}: door [{}] only counts knocks sent to {target} (Target): knock that address",
                section.get("Target").map_or(section.line, |e| e.line),
                section.name
            )
        })
        .into_iter()
        .collect()
}

/// Longest base name, leaving room for a `-NN` suffix within [`validate_name`]'s 64 characters.
const MAX_BASE_NAME: usize = 56;

/// `text` made into a valid profile name: lower-cased, other characters turned into `-`; `None` if
/// nothing is left.
pub(super) fn profile_name(text: &str) -> Option<String> {
    let mut name = String::new();
    for c in text.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c.to_ascii_lowercase() } else { '-' };
        if !(c == '-' && name.ends_with('-')) {
            name.push(c);
        }
    }
    name.truncate(MAX_BASE_NAME);
    let name = name.trim_matches(['-', '_', '.']);
    if name.is_empty() {
        return None;
    }
    if validate_name(name).is_ok() {
        return Some(name.to_owned());
    }
    // `con`, `nul`, `com1`...: reserved on Windows.
    let name = format!("{name}-door");
    validate_name(&name).is_ok().then_some(name)
}

/// The host as a profile name, for doors named just `[open]`; `None` for IPv6 literals, which would
/// lose their colons.
fn host_name(host: &str) -> Option<String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<Ipv6Addr>().is_ok() {
        return None;
    }
    profile_name(host)
}

/// `base`, or `base-2`, `base-3`... when taken.
pub(super) fn unique_name(base: String, taken: &mut HashSet<String>) -> String {
    let mut name = base.clone();
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    taken.insert(name.clone());
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knockd_conf::{DEBIAN_SAMPLE, parse};
    use crate::sequence::Hit;

    fn import(text: &str) -> KnockdImport {
        let conf = parse(text).expect("valid knockd.conf");
        profiles_from_knockd_conf(&conf, "bastion.example.org")
    }

    fn seq(text: &str) -> Sequence {
        Sequence::parse(text, Protocol::Tcp).expect("test sequence")
    }

    fn names(import: &KnockdImport) -> Vec<&str> {
        import.profiles.iter().map(|p| p.name.as_str()).collect()
    }

    fn profile<'i>(import: &'i KnockdImport, name: &str) -> &'i ImportedProfile {
        import
            .profiles
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no profile {name} in {:?}", names(import)))
    }

    #[test]
    fn debians_sample_becomes_ssh_and_https() {
        let result = import(DEBIAN_SAMPLE);
        assert_eq!(names(&result), ["ssh", "https"]);
        assert!(result.skipped.is_empty());
        let ssh = profile(&result, "ssh");
        assert_eq!(ssh.doors, ["openSSH", "closeSSH"]);
        assert_eq!(ssh.profile.host, "bastion.example.org");
        assert_eq!(ssh.profile.sequence().map(|k| k.open.clone()), Some(seq("7000,8000,9000").into()));
        assert_eq!(ssh.profile.sequence().and_then(|k| k.close.clone()), Some(seq("9000,8000,7000").into()));
        assert_eq!(ssh.profile.sequence().map(|k| k.tcp_flags).unwrap_or_default().to_string(), "syn");
        assert_eq!(ssh.profile.notes, "imported from knockd.conf door [openSSH] / [closeSSH]");
        assert!(ssh.profile.tags.is_empty());
        assert!(ssh.warnings.is_empty(), "{:?}", ssh.warnings);
        let https = profile(&result, "https");
        assert_eq!(https.doors, ["openHTTPS"]);
        assert_eq!(https.profile.sequence().map(|k| k.open.clone()), Some(seq("12345,54321,24680,13579").into()));
        assert_eq!(https.profile.sequence().and_then(|k| k.close.clone()), None);
        assert_eq!(https.profile.notes, "imported from knockd.conf door [openHTTPS]");
        for p in &result.profiles {
            assert_eq!(validate_name(&p.name), Ok(()));
        }
    }

    #[test]
    fn protocols_are_carried() {
        let result = import("[openVPN]\nsequence = 7000:udp,8000,9000:UDP\n[closeVPN]\nsequence = 9000:udp,8000:tcp\n");
        let vpn = profile(&result, "vpn");
        assert_eq!(
            vpn.profile.sequence().and_then(|k| k.open.inline()).map(Sequence::hits).unwrap_or_default(),
            [Hit::udp(7000), Hit::tcp(8000), Hit::udp(9000)]
        );
        assert_eq!(
            vpn.profile
                .sequence()
                .and_then(|k| k.close.clone())
                .as_ref()
                .and_then(crate::profile::SequenceSource::inline)
                .map(Sequence::hits),
            Some(&[Hit::udp(9000), Hit::tcp(8000)][..])
        );
    }

    #[test]
    fn pairing_spellings() {
        let result = import(
            "[ssh-open]\nsequence = 1\n[ssh-close]\nsequence = 2\n\
             [open_web]\nsequence = 3\n[close_web]\nsequence = 4\n\
             [closeMail]\nsequence = 6\n[openmail]\nsequence = 5\n\
             [startVPN]\nsequence = 7\n[stopVPN]\nsequence = 8\n\
             [open]\nsequence = 9\n[close]\nsequence = 10\n",
        );
        assert_eq!(names(&result), ["ssh", "web", "mail", "vpn", "bastion.example.org"]);
        let mail = profile(&result, "mail");
        assert_eq!(mail.doors, ["openmail", "closeMail"], "the open door comes first even when written second");
        assert_eq!(mail.profile.sequence().map(|k| k.open.clone()), Some(seq("5").into()));
        assert_eq!(mail.profile.sequence().and_then(|k| k.close.clone()), Some(seq("6").into()));
        assert!(
            result
                .profiles
                .iter()
                .all(|p| p.profile.sequence().and_then(|k| k.close.clone()).is_some() && p.warnings.is_empty())
        );
    }

    #[test]
    fn open_close_families_do_not_mix_and_extra_doors_stay_alone() {
        let result = import("[openX]\nsequence = 1\n[stopX]\nsequence = 2\n[openX2]\nsequence = 3\n");
        assert_eq!(names(&result), ["x", "stopx", "x2"]);
        assert!(result.profiles.iter().all(|p| p.profile.sequence().and_then(|k| k.close.clone()).is_none()));
        let two_openers = import("[openSSH]\nsequence = 1\n[open_ssh]\nsequence = 2\n[closeSSH]\nsequence = 3\n");
        assert_eq!(names(&two_openers), ["ssh", "ssh-2"]);
        assert_eq!(two_openers.profiles[0].doors, ["openSSH", "closeSSH"]);
        assert_eq!(two_openers.profiles[1].doors, ["open_ssh"]);
    }

    #[test]
    fn a_lone_close_door_keeps_its_name_and_is_flagged() {
        let result = import("[closeSSH]\nsequence = 9000\n");
        let close = profile(&result, "closessh");
        assert_eq!(close.profile.sequence().map(|k| k.open.clone()), Some(seq("9000").into()));
        assert!(close.warnings[0].contains("no matching open door"), "{:?}", close.warnings);
    }

    #[test]
    fn self_closing_doors_are_named_after_their_stem() {
        let result = import("[opencloseSSH]\nsequence = 2222:udp,3333:tcp,4444:udp\ntcpflags = syn,ack\n");
        let ssh = profile(&result, "ssh");
        assert_eq!(ssh.profile.sequence().and_then(|k| k.close.clone()), None);
        assert_eq!(ssh.profile.sequence().map(|k| k.tcp_flags).unwrap_or_default().to_string(), "syn,ack");
        assert!(ssh.warnings.iter().any(|w| w.contains("raw send method")), "{:?}", ssh.warnings);
    }

    #[test]
    fn one_time_doors_are_skipped_with_a_reason() {
        let result = import(
            "[openSSH]\nsequence = 1,2\n\n[opencloseSMTP]\none_time_sequences = /etc/knockd/smtp\ntcpflags = fin,!ack\n",
        );
        assert_eq!(names(&result), ["ssh"]);
        assert_eq!(result.skipped.len(), 1);
        let skipped = &result.skipped[0];
        assert_eq!((skipped.door.as_str(), skipped.line), ("opencloseSMTP", 4));
        assert!(skipped.reason.contains("One_Time_Sequences"), "{skipped}");
        assert_eq!(skipped.at, Some(5), "the One_Time_Sequences line");
        assert!(skipped.to_string().starts_with("line 5: door [opencloseSMTP] skipped: "), "{skipped}");
        // Even with a Sequence line too: knockd loads the file's sequence over it.
        let both = import("[d]\nsequence = 1\none_time_sequences = /x\n");
        assert!(both.profiles.is_empty());
        assert_eq!(both.skipped[0].door, "d");
    }

    #[test]
    fn a_close_door_whose_opener_is_one_time_is_imported_alone() {
        let result = import("[openSSH]\none_time_sequences = /x\n[closeSSH]\nsequence = 3,2,1\n");
        assert_eq!(names(&result), ["closessh"]);
        assert_eq!(result.skipped[0].door, "openSSH");
    }

    #[test]
    fn name_collisions_get_numeric_suffixes() {
        let result = import(
            "[openSSH]\nsequence = 1\n[closeSSH]\nsequence = 2\n[ssh]\nsequence = 3\n[SSH!]\nsequence = 4\n[open-ssh]\nsequence = 5\n",
        );
        assert_eq!(names(&result), ["ssh", "ssh-2", "ssh-3", "ssh-4"]);
    }

    #[test]
    fn weird_door_names_are_sanitized() {
        let result = import(
            "[Web Server (prod)]\nsequence = 1\n[..hidden]\nsequence = 2\n[con]\nsequence = 3\n\
             [!!!]\nsequence = 4\n[Öffnen]\nsequence = 5\n[opener]\nsequence = 6\n[openssh]\nsequence = 7\n",
        );
        assert_eq!(
            names(&result),
            ["web-server-prod", "hidden", "con-door", "bastion.example.org", "ffnen", "opener", "openssh"]
        );
        let long = import(&format!("[{a}]\nsequence = 1\n[{a}x]\nsequence = 2\n", a = "a".repeat(100)));
        let base = "a".repeat(MAX_BASE_NAME);
        assert_eq!(names(&long), [base.clone(), format!("{base}-2")]);
        for p in &long.profiles {
            assert_eq!(validate_name(&p.name), Ok(()), "{}", p.name);
        }
    }

    #[test]
    fn bare_open_door_falls_back_to_the_host_or_door() {
        let conf = parse("[open]\nsequence = 1\n[openSSH]\nsequence = 2\n").expect("valid");
        let by_ip = profiles_from_knockd_conf(&conf, " 192.0.2.7 ");
        assert_eq!(names(&by_ip), ["192.0.2.7", "ssh"]);
        assert_eq!(by_ip.profiles[0].profile.host, "192.0.2.7");
        let conf = parse("[open]\nsequence = 1\n").expect("valid");
        for ipv6 in ["2001:db8::1", "[::1]"] {
            let result = profiles_from_knockd_conf(&conf, ipv6);
            assert_eq!(result.profiles[0].name, "door", "{ipv6}");
        }
    }

    #[test]
    fn tcp_flags_of_a_pair() {
        let differ = import("[openA]\nsequence = 1\ntcpflags = syn\n[closeA]\nsequence = 2\ntcpflags = fin\n");
        let a = profile(&differ, "a");
        assert_eq!(
            a.profile.sequence().map(|k| k.tcp_flags).unwrap_or_default().to_string(),
            "syn",
            "the open door's flags win"
        );
        assert!(a.warnings.iter().any(|w| w.contains("[closeA] expects tcpflags fin")), "{:?}", a.warnings);
        let compatible = import("[openB]\nsequence = 1\ntcpflags = syn\n[closeB]\nsequence = 2\ntcpflags = syn,!ack\n");
        assert!(profile(&compatible, "b").warnings.is_empty(), "SYN satisfies both doors");
        let only_close = import("[openC]\nsequence = 1\n[closeC]\nsequence = 2\ntcpflags = syn,ack\n");
        assert_eq!(
            profile(&only_close, "c").profile.sequence().map(|k| k.tcp_flags).unwrap_or_default().to_string(),
            "syn,ack",
            "the open door accepts any flags"
        );
        let none = import("[d]\nsequence = 1\n");
        assert_eq!(
            profile(&none, "d").profile.sequence().map(|k| k.tcp_flags).unwrap_or_default(),
            TcpFlagSpec::default()
        );
        let udp_only = import("[e]\nsequence = 1:udp\ntcpflags = fin\n");
        assert_eq!(
            profile(&udp_only, "e").profile.sequence().map(|k| k.tcp_flags).unwrap_or_default(),
            TcpFlagSpec::default(),
            "flags only matter for TCP"
        );
    }

    #[test]
    fn flags_that_set_nothing_get_a_sendable_flag() {
        let not_ack = import("[d]\nsequence = 1\ntcpflags = !ack\n");
        let d = profile(&not_ack, "d");
        assert_eq!(d.profile.sequence().map(|k| k.tcp_flags).unwrap_or_default().to_string(), "syn,!ack");
        assert!(d.warnings[0].contains("set no flag"), "{:?}", d.warnings);
        let not_syn = import("[d]\nsequence = 1\ntcpflags = !syn\n");
        assert_eq!(
            profile(&not_syn, "d").profile.sequence().map(|k| k.tcp_flags).unwrap_or_default().to_string(),
            "fin,!syn"
        );
        let impossible =
            import("[openD]\nsequence = 1\ntcpflags = !fin,!syn,!rst,!psh,!ack,!urg\n[closeD]\nsequence = 2\n");
        assert!(impossible.profiles.is_empty());
        let skipped: Vec<&str> = impossible.skipped.iter().map(|s| s.door.as_str()).collect();
        assert_eq!(skipped, ["openD", "closeD"]);
        assert!(impossible.skipped[0].reason.contains("forbid every flag"));
    }

    #[test]
    fn a_target_is_warned_about_and_an_unknown_key_skips_its_door_only() {
        let result =
            import("[wake]\nsequence = 1\ntarget = 192.0.2.50\n[udpdoor]\nsequence = 7000,8000\nprotocol = udp\n");
        let warnings = &profile(&result, "wake").warnings;
        assert!(warnings.iter().any(|w| w.contains("line 3") && w.contains("192.0.2.50")), "{warnings:?}");
        assert_eq!(names(&result), ["wake"], "the door with `protocol` is not guessed at");
        let skipped = &result.skipped[0];
        assert_eq!((skipped.door.as_str(), skipped.line, skipped.at), ("udpdoor", 4, Some(6)));
        assert!(
            skipped.to_string().starts_with("line 6: door [udpdoor] skipped: protocol is not a knockd"),
            "{skipped}"
        );
    }

    #[test]
    fn each_bad_door_is_skipped_by_name_and_line_and_the_rest_imported() {
        let result = import(
            "[options]\nUseSyslog\n\n[openSSH]\ncommand = /bin/true\n[d]\nsequence = 7000:icmp\n\
             [e]\nsequence = 1\ntcpflags = syn|ack\n[good]\nsequence = 1,2,3\n",
        );
        assert_eq!(names(&result), ["good"]);
        let skipped: Vec<(&str, Option<usize>)> = result.skipped.iter().map(|s| (s.door.as_str(), s.at)).collect();
        assert_eq!(skipped, [("openSSH", None), ("d", Some(7)), ("e", Some(10))]);
        assert!(result.skipped[0].reason.contains("neither Sequence"), "{}", result.skipped[0]);
        let bad_sequence = &result.skipped[1].reason;
        assert!(
            bad_sequence.contains("not a valid knockd sequence") && !bad_sequence.contains("7000"),
            "{bad_sequence}"
        );
        assert!(import("[options]\nUseSyslog\n").profiles.is_empty());
    }

    #[test]
    fn mapped_directives_never_show_a_sequence() {
        let result = import(DEBIAN_SAMPLE);
        let ssh = profile(&result, "ssh");
        let text = format!("{:?}", ssh.mapped);
        assert!(!text.contains("7000") && !text.contains("9000"), "{text}");
        assert!(ssh.mapped.iter().any(|m| m.from == "[openSSH] sequence" && m.to == "open (3 hits)"), "{text}");
        assert!(ssh.mapped.iter().any(|m| m.from.ends_with("command") && m.to.contains("server runs")), "{text}");
    }
}
