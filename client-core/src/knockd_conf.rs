//! knockd.conf syntax: `[sections]` of `key = value` entries, read the way knockd 0.8 reads them.
//!
//! Shared by the server (which runs the doors) and the client import (which turns doors into profiles),
//! so both accept the same files and report the same errors. Every section and entry keeps its line
//! number, so a caller can say `FILE:LINE: key: problem`. This module checks syntax and the values of the
//! door keys both sides need (Sequence, TCPFlags, timeouts); which keys a section may hold is checked
//! separately by [`KnockdConf::check_keys`], because the import tolerates keys the server must refuse.
//!
//! Where knockd is silently lenient, this parser is strict: `7000 8000` (knockd keeps 7000 and drops
//! 8000), `seq_timeout = 5s` (atoi) and ports 0 or above 65535 are errors that say what to write instead.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::sequence::{Protocol, Sequence, SequenceError, TcpFlagSpec};

/// knockd's SEQ_MAX: the most hits a door's sequence may have.
pub const MAX_SEQUENCE_HITS: usize = 32;
/// knockd's Seq_Timeout when the key is absent.
pub const DEFAULT_SEQ_TIMEOUT_SECS: u64 = 25;
/// knockd's Cmd_Timeout when the key is absent.
pub const DEFAULT_CMD_TIMEOUT_SECS: u64 = 10;

/// The one directive written without `= value`.
pub const USE_SYSLOG: &str = "UseSyslog";
/// The keys knockd accepts in `[options]`.
pub const OPTION_KEYS: &[&str] = &[
    "LogFile",
    "PidFile",
    "Interface",
    // knock-server's sweep guard: the host's public service ports (knockd refuses this key).
    "Public_Ports",
    // knock-server's SPA door: fwknopd's access.conf (knockd refuses this key).
    "Fwknop_Access",
    // ... and its opt-in for access.conf stanzas without an HMAC key (knockd refuses this key).
    "Fwknop_Allow_No_Hmac",
    USE_SYSLOG,
];
/// The keys knockd accepts in a door, aliases included.
pub const DOOR_KEYS: &[&str] = &[
    "Sequence",
    "One_Time_Sequences",
    "Seq_Timeout",
    "Timeout",
    "TCPFlags",
    "Start_Command",
    "Command",
    "Start_Command_6",
    "Command_6",
    "Cmd_Timeout",
    "Stop_Command",
    "Stop_Command_6",
    "Target",
    // knock-server's native nftables doors (knockd refuses these keys; the client import ignores them).
    "Nft_Set",
    "Nft_Set_6",
    "Nft_Timeout",
    // knock-server's rotating doors (docs/rotating-sequences.md); knockd refuses these keys too.
    "Rotating_Keys",
    "Rotating_Step",
    "Rotating_Length",
    "Rotating_Range",
    "Rotating_Protocols",
    "Rotating_Skew",
    // knock-server's sweep guard (server-mini/src/sweep_guard.rs); knockd refuses these keys too.
    "Sweep_Guard",
    "Sweep_Penalty",
    USE_SYSLOG,
];
/// (directive, alias): knockd treats both spellings as the same directive.
const ALIASES: &[(&str, &str)] =
    &[("Seq_Timeout", "Timeout"), ("Start_Command", "Command"), ("Start_Command_6", "Command_6")];

const OPTIONS: &str = "options";

/// A parsed knockd.conf: the global section and the doors, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KnockdConf {
    /// `[options]`, if the file has one. Later `[options]` sections are merged into it, as knockd does
    /// (their entries follow the first section's, so a repeated key's last line wins).
    pub options: Option<Section>,
    /// Header lines of the `[options]` sections merged into the first one.
    pub merged_options: Vec<usize>,
    /// Doors in file order. Two doors may share a name (knockd accepts it; see
    /// [`KnockdConf::duplicate_doors`]).
    pub doors: Vec<Section>,
}

/// One `[name]` section and its entries, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The name between the brackets, trimmed.
    pub name: String,
    /// The line of the `[name]` header (1-based).
    pub line: usize,
    pub entries: Vec<Entry>,
}

/// One directive line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key as written (keys compare case-insensitively).
    pub key: String,
    /// The trimmed text after the first `=`; `None` only for `UseSyslog`.
    pub value: Option<String>,
    /// 1-based line number.
    pub line: usize,
}

/// A knockd.conf that cannot be used, with the position of the problem.
#[derive(Debug, Error)]
pub enum ConfError {
    /// Displayed as `line N: key: message`, or `FILE:N: key: message` once a path is attached.
    #[error("{}", describe(.path, .line, .key, .message))]
    Invalid { path: Option<PathBuf>, line: usize, key: Option<String>, message: String },
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn describe(path: &Option<PathBuf>, line: &usize, key: &Option<String>, message: &str) -> String {
    let location = match path {
        Some(path) => format!("{}:{line}", path.display()),
        None => format!("line {line}"),
    };
    match key {
        Some(key) => format!("{location}: {key}: {message}"),
        None => format!("{location}: {message}"),
    }
}

impl ConfError {
    /// A problem with a whole line (a header, a malformed directive).
    pub fn at_line(line: usize, message: impl Into<String>) -> ConfError {
        ConfError::Invalid { path: None, line, key: None, message: message.into() }
    }

    /// A problem with one entry: the message is reported under the entry's key.
    pub fn at_entry(entry: &Entry, message: impl Into<String>) -> ConfError {
        ConfError::Invalid { path: None, line: entry.line, key: Some(entry.key.clone()), message: message.into() }
    }

    /// Attaches the file the error was found in (for callers that read the file themselves).
    pub fn in_file(self, file: impl Into<PathBuf>) -> ConfError {
        match self {
            ConfError::Invalid { line, key, message, .. } => {
                ConfError::Invalid { path: Some(file.into()), line, key, message }
            }
            read @ ConfError::Read { .. } => read,
        }
    }

    pub fn line(&self) -> Option<usize> {
        match self {
            ConfError::Invalid { line, .. } => Some(*line),
            ConfError::Read { .. } => None,
        }
    }

    pub fn key(&self) -> Option<&str> {
        match self {
            ConfError::Invalid { key, .. } => key.as_deref(),
            ConfError::Read { .. } => None,
        }
    }

    pub fn path(&self) -> Option<&Path> {
        match self {
            ConfError::Invalid { path, .. } => path.as_deref(),
            ConfError::Read { path, .. } => Some(path),
        }
    }
}

/// Why a directive's value was rejected (without position: [`Section`]'s helpers add it).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValueError {
    #[error("empty value: expected {expected}")]
    Empty { expected: &'static str },
    #[error("{0}")]
    Sequence(#[from] SequenceError),
    #[error("hits are separated by commas: knockd would read {item:?} as port {first} alone (write {suggestion})")]
    SpaceInHit { item: String, first: String, suggestion: String },
    #[error("{count} hits, but knockd allows at most {MAX_SEQUENCE_HITS}")]
    TooManyHits { count: usize },
    #[error("{text:?}: separate TCP flags with commas, not '|' (e.g. syn,!ack)")]
    PipeInFlags { text: String },
    #[error("{text:?} is not a whole number of seconds (expected 0 or more, e.g. 5)")]
    NotSeconds { text: String },
    #[error(
        "{text:?}: knockd.conf has no end-of-line comments, so '#' is part of the value \
         (put the comment on a line of its own)"
    )]
    Comment { text: String },
    #[error("the directive needs a value: write {key} = ...")]
    Missing { key: String },
}

/// Parses a knockd `Sequence` value (also the format of each line of a one-time sequences file):
/// `PORT[:tcp|udp]` separated by commas, at most [`MAX_SEQUENCE_HITS`], default protocol tcp.
pub fn parse_sequence(text: &str) -> Result<Sequence, ValueError> {
    if text.trim().is_empty() {
        return Err(ValueError::Empty { expected: "ports like 7000,8000:udp,9000" });
    }
    if let Some(item) = text.split(',').map(str::trim).find(|item| item.contains(char::is_whitespace)) {
        let mut words = item.split_whitespace();
        return Err(ValueError::SpaceInHit {
            item: item.to_owned(),
            first: words.next().unwrap_or_default().to_owned(),
            suggestion: item.split_whitespace().collect::<Vec<_>>().join(","),
        });
    }
    let sequence = Sequence::parse(text, Protocol::Tcp)?;
    if sequence.len() > MAX_SEQUENCE_HITS {
        return Err(ValueError::TooManyHits { count: sequence.len() });
    }
    Ok(sequence)
}

/// Parses a knockd `TCPFlags` value: comma-separated fin/syn/rst/psh/ack/urg, `!` for "must be clear".
pub fn parse_tcp_flags(text: &str) -> Result<TcpFlagSpec, ValueError> {
    if text.trim().is_empty() {
        return Err(ValueError::Empty { expected: "flags like syn or syn,!ack" });
    }
    if text.contains('|') {
        // The man page writes `TCPFlags = fin|syn|...` to list the choices; knockd itself rejects `|`.
        return Err(ValueError::PipeInFlags { text: text.to_owned() });
    }
    Ok(TcpFlagSpec::parse(text)?)
}

/// Parses a timeout in whole seconds (`Seq_Timeout`, `Cmd_Timeout`).
pub fn parse_seconds(text: &str) -> Result<u64, ValueError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ValueError::Empty { expected: "a whole number of seconds, e.g. 5" });
    }
    let not_seconds = || ValueError::NotSeconds { text: text.to_owned() };
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(not_seconds());
    }
    text.parse().map_err(|_| not_seconds())
}

impl Entry {
    /// Whether this entry's key is `key` (case-insensitive).
    pub fn is(&self, key: &str) -> bool {
        self.key.eq_ignore_ascii_case(key)
    }

    /// Parses the value with `parse`, reporting a failure at this entry's line and key. A rejected value
    /// that holds `#` is reported as a misplaced comment, the likely cause.
    pub fn parse_value<T>(&self, parse: impl FnOnce(&str) -> Result<T, ValueError>) -> Result<T, ConfError> {
        let result = match self.value.as_deref() {
            None => Err(ValueError::Missing { key: self.key.clone() }),
            Some(value) => parse(value)
                .map_err(|err| if value.contains('#') { ValueError::Comment { text: value.to_owned() } } else { err }),
        };
        result.map_err(|err| ConfError::at_entry(self, err.to_string()))
    }
}

impl Section {
    /// Whether this is the global `[options]` section.
    pub fn is_options(&self) -> bool {
        self.name.eq_ignore_ascii_case(OPTIONS)
    }

    /// The entry for `key` (case-insensitive, no aliases). When a key is repeated the last one wins,
    /// as in knockd.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().rev().find(|entry| entry.is(key))
    }

    /// Like [`Section::get`], but also matches knockd's alias of the directive (`Timeout` for
    /// `Seq_Timeout`, `Command` for `Start_Command`, `Command_6` for `Start_Command_6`); the last line wins.
    pub fn directive(&self, key: &str) -> Option<&Entry> {
        let alias = ALIASES.iter().find(|(name, _)| name.eq_ignore_ascii_case(key)).map(|(_, alias)| *alias);
        self.entries.iter().rev().find(|entry| entry.is(key) || alias.is_some_and(|alias| entry.is(alias)))
    }

    /// The door's `Sequence`, if it has one.
    pub fn sequence(&self) -> Result<Option<Sequence>, ConfError> {
        self.get("Sequence").map(|entry| entry.parse_value(parse_sequence)).transpose()
    }

    /// The door's `TCPFlags`, if it has any (a door without them accepts any flags).
    pub fn tcp_flags(&self) -> Result<Option<TcpFlagSpec>, ConfError> {
        self.get("TCPFlags").map(|entry| entry.parse_value(parse_tcp_flags)).transpose()
    }

    /// A timeout in seconds, e.g. `seconds("Seq_Timeout")` (aliases included, see [`Section::directive`]).
    pub fn seconds(&self, key: &str) -> Result<Option<u64>, ConfError> {
        self.directive(key).map(|entry| entry.parse_value(parse_seconds)).transpose()
    }

    /// The entries whose key knockd does not accept in this kind of section.
    pub fn unknown_keys(&self) -> impl Iterator<Item = &Entry> {
        let known = if self.is_options() { OPTION_KEYS } else { DOOR_KEYS };
        self.entries.iter().filter(move |entry| !known.iter().any(|key| entry.is(key)))
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.name)
    }
}

impl KnockdConf {
    /// The (first) door called `name` (case-insensitive, like the duplicate check).
    pub fn door(&self, name: &str) -> Option<&Section> {
        self.doors.iter().find(|door| door.name.eq_ignore_ascii_case(name))
    }

    /// Doors whose name (case-insensitive) an earlier door already has, each with that earlier door:
    /// `(later, first)`. knockd runs both; a caller may warn that logs cannot tell them apart.
    pub fn duplicate_doors(&self) -> Vec<(&Section, &Section)> {
        self.doors
            .iter()
            .enumerate()
            .filter_map(|(i, door)| {
                self.doors[..i]
                    .iter()
                    .find(|first| first.name.eq_ignore_ascii_case(&door.name))
                    .map(|first| (door, first))
            })
            .collect()
    }

    /// A global option from `[options]`.
    pub fn option(&self, key: &str) -> Option<&Entry> {
        self.options.as_ref().and_then(|options| options.get(key))
    }

    /// knockd honours `UseSyslog` in any section.
    pub fn use_syslog(&self) -> bool {
        self.sections().any(|section| section.get(USE_SYSLOG).is_some())
    }

    /// Every section, `[options]` first.
    pub fn sections(&self) -> impl Iterator<Item = &Section> {
        self.options.iter().chain(&self.doors)
    }

    /// Refuses keys that knockd refuses ("syntax error"): the first one in the file is reported,
    /// with the keys that section accepts.
    pub fn check_keys(&self) -> Result<(), ConfError> {
        let first = self
            .sections()
            .flat_map(|section| section.unknown_keys().map(move |entry| (section, entry)))
            .min_by_key(|(_, entry)| entry.line);
        match first {
            None => Ok(()),
            Some((section, entry)) => {
                let (kind, known) =
                    if section.is_options() { ("[options]", OPTION_KEYS) } else { ("a door", DOOR_KEYS) };
                Err(ConfError::at_entry(entry, format!("unknown key in {kind} (valid: {})", known.join(", "))))
            }
        }
    }
}

/// Parses knockd.conf text.
pub fn parse(text: &str) -> Result<KnockdConf, ConfError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut sections: Vec<Section> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        match classify(line, raw.trim())? {
            Line::Blank => {}
            // A repeated section name is accepted, as knockd accepts it: a second [options] is merged
            // into the first (see below), a second door of the same name is a door of its own.
            Line::Header(name) => sections.push(Section { name: name.to_owned(), line, entries: Vec::new() }),
            Line::Entry { key, value } => {
                let Some(section) = sections.last_mut() else {
                    return Err(ConfError::at_line(
                        line,
                        format!("{key} is outside any section: every directive belongs to [options] or to a [door]"),
                    ));
                };
                section.entries.push(Entry { key: key.to_owned(), value: value.map(str::to_owned), line });
            }
        }
    }
    let (options, doors): (Vec<Section>, Vec<Section>) = sections.into_iter().partition(Section::is_options);
    let mut options = options.into_iter();
    let mut first = options.next();
    let mut merged_options = Vec::new();
    for later in options {
        merged_options.push(later.line);
        if let Some(first) = &mut first {
            first.entries.extend(later.entries);
        }
    }
    Ok(KnockdConf { options: first, merged_options, doors })
}

/// Reads and parses a knockd.conf file; errors carry its path.
pub fn parse_file(path: impl AsRef<Path>) -> Result<KnockdConf, ConfError> {
    let path = path.as_ref();
    let text = fs::read_to_string(path).map_err(|source| ConfError::Read { path: path.to_owned(), source })?;
    parse(&text).map_err(|err| err.in_file(path))
}

/// What one trimmed line is.
enum Line<'a> {
    Blank,
    Header(&'a str),
    Entry { key: &'a str, value: Option<&'a str> },
}

fn classify(line: usize, text: &str) -> Result<Line<'_>, ConfError> {
    if text.is_empty() || text.starts_with('#') {
        return Ok(Line::Blank);
    }
    if text.starts_with('[') {
        return header(line, text).map(Line::Header);
    }
    if text.eq_ignore_ascii_case(USE_SYSLOG) {
        return Ok(Line::Entry { key: text, value: None });
    }
    let Some((key, value)) = text.split_once('=') else {
        return Err(ConfError::at_line(
            line,
            format!("{text:?} is not a directive: write key = value ({USE_SYSLOG} is the only key without a value)"),
        ));
    };
    let (key, value) = (key.trim(), value.trim());
    if key.is_empty() {
        return Err(ConfError::at_line(line, format!("missing key before '=' in {text:?}: write key = value")));
    }
    if key.eq_ignore_ascii_case(USE_SYSLOG) {
        return Err(ConfError::at_line(line, format!("{key} takes no value: write {USE_SYSLOG} alone on its line")));
    }
    Ok(Line::Entry { key, value: Some(value) })
}

fn header(line: usize, text: &str) -> Result<&str, ConfError> {
    let malformed = || {
        ConfError::at_line(
            line,
            format!(
                "malformed section header {text:?}: write [name] alone on its line (comments go on their own line)"
            ),
        )
    };
    let name = text.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')).ok_or_else(malformed)?.trim();
    if name.contains(['[', ']']) {
        return Err(malformed());
    }
    if name.is_empty() {
        return Err(ConfError::at_line(
            line,
            "empty section name []: write [options] or a door name such as [openSSH]",
        ));
    }
    Ok(name)
}

/// Debian's /etc/knockd.conf (knockd 0.8) byte for byte, tabs included; used by the tests here and in
/// the import.
#[cfg(test)]
pub(crate) const DEBIAN_SAMPLE: &str = "[options]\n\tUseSyslog\n\n[openSSH]\n\tsequence    = 7000,8000,9000\n\
\tseq_timeout = 5\n\tcommand     = /sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT\n\
\ttcpflags    = syn\n\n[closeSSH]\n\tsequence    = 9000,8000,7000\n\tseq_timeout = 5\n\
\tcommand     = /sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT\n\ttcpflags    = syn\n\n\
[openHTTPS]\n\tsequence    = 12345,54321,24680,13579\n\tseq_timeout = 5\n\
\tcommand     = /usr/local/sbin/knock_add -i -c INPUT -p tcp -d 443 -f %IP%\n\ttcpflags    = syn\n\n";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sequence::{Hit, TcpFlags};

    use super::DEBIAN_SAMPLE as DEBIAN;

    fn conf(text: &str) -> KnockdConf {
        match parse(text) {
            Ok(conf) => conf,
            Err(err) => panic!("{text:?} should parse: {err}"),
        }
    }

    fn error(text: &str) -> ConfError {
        match parse(text) {
            Ok(conf) => panic!("{text:?} should be refused, got {conf:?}"),
            Err(err) => err,
        }
    }

    /// Asserts the error's line and that its message contains every `needle`.
    fn assert_error(err: &ConfError, line: usize, needles: &[&str]) {
        let text = err.to_string();
        assert_eq!(err.line(), Some(line), "{text}");
        assert!(text.starts_with(&format!("line {line}: ")), "{text}");
        for needle in needles {
            assert!(text.contains(needle), "{text:?} lacks {needle:?}");
        }
    }

    fn door(text: &str) -> Section {
        let mut conf = conf(text);
        assert_eq!(conf.doors.len(), 1, "{conf:?}");
        conf.doors.remove(0)
    }

    fn seq(text: &str) -> Sequence {
        Sequence::parse(text, Protocol::Tcp).expect("test sequence")
    }

    #[test]
    fn debians_sample_parses_with_positions() {
        let conf = conf(DEBIAN);
        let options = conf.options.as_ref().expect("[options]");
        assert_eq!((options.name.as_str(), options.line), ("options", 1));
        assert_eq!(options.entries, vec![Entry { key: "UseSyslog".into(), value: None, line: 2 }]);
        assert!(conf.use_syslog());
        let names: Vec<(&str, usize)> = conf.doors.iter().map(|d| (d.name.as_str(), d.line)).collect();
        assert_eq!(names, [("openSSH", 4), ("closeSSH", 10), ("openHTTPS", 16)]);
        let open = &conf.doors[0];
        assert_eq!(open.sequence().expect("valid"), Some(seq("7000,8000,9000")));
        assert_eq!(open.tcp_flags().expect("valid"), Some(TcpFlagSpec { set: TcpFlags::SYN, clear: TcpFlags::NONE }));
        assert_eq!(open.seconds("Seq_Timeout").expect("valid"), Some(5));
        assert_eq!(open.seconds("Cmd_Timeout").expect("valid"), None);
        let command = open.directive("Start_Command").expect("command is Start_Command's alias");
        assert_eq!((command.key.as_str(), command.line), ("command", 7));
        assert_eq!(command.value.as_deref(), Some("/sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT"));
        assert_eq!(
            conf.door("openhttps").map(|d| d.sequence().expect("valid")),
            Some(Some(seq("12345,54321,24680,13579")))
        );
        assert!(conf.check_keys().is_ok());
    }

    #[test]
    fn crlf_tabs_bom_and_comments_are_tolerated() {
        let text = "\u{feff}# knockd.conf\r\n\r\n[options]\r\n\t  LogFile\t=\t/var/log/knockd.log  \r\n\
                    \t# indented comment\r\n[door]\r\n\tSequence\t=\t7000, 8000:udp\r\n#last";
        let conf = conf(text);
        assert_eq!(conf.option("logfile").and_then(|e| e.value.as_deref()), Some("/var/log/knockd.log"));
        let door = &conf.doors[0];
        assert_eq!(door.line, 6);
        assert_eq!(door.entries.len(), 1);
        assert_eq!(door.entries[0].line, 7);
        assert_eq!(
            door.sequence().expect("valid"),
            Some(Sequence::new(vec![Hit::tcp(7000), Hit::udp(8000)]).expect("two hits"))
        );
        // A lone CR at the end of the file is whitespace too.
        assert!(parse("[d]\r\nsequence = 1\r").is_ok());
    }

    #[test]
    fn keys_and_options_are_case_insensitive_and_keep_their_spelling() {
        let conf = conf("[OPTIONS]\nINTERFACE = eth1\n[d]\nSEQUENCE = 7000:UDP\nTcpFlags = SYN,!Ack\n");
        assert!(conf.options.as_ref().is_some_and(Section::is_options));
        assert_eq!(conf.option("Interface").map(|e| e.key.as_str()), Some("INTERFACE"));
        let door = &conf.doors[0];
        assert_eq!(door.get("sequence").map(|e| e.key.as_str()), Some("SEQUENCE"));
        assert_eq!(door.sequence().expect("valid"), Some(seq("7000:udp")));
        assert_eq!(door.tcp_flags().expect("valid").map(|f| f.to_string()), Some("syn,!ack".into()));
        assert_eq!(door.get("missing"), None);
    }

    #[test]
    fn use_syslog_is_accepted_in_any_section_but_not_outside_one() {
        let conf = conf("[d]\n usesyslog\nsequence = 1\n[options]\nLogFile = /tmp/k\n");
        assert!(conf.use_syslog());
        assert_eq!(conf.doors[0].get(USE_SYSLOG).map(|e| e.line), Some(2));
        assert!(!self::conf("[d]\nsequence = 1\n").use_syslog());
        assert_error(&error("UseSyslog\n[options]\n"), 1, &["outside any section"]);
        assert_error(&error("[options]\nUseSyslog = yes\n"), 2, &["takes no value", "UseSyslog alone"]);
    }

    #[test]
    fn values_split_at_the_first_equals_and_keep_hashes() {
        let door =
            door("[d]\nsequence = 1\nstart_command = /usr/bin/logger a=b == c # not a comment\nstop_command =\n");
        let start = door.directive("start_command").expect("start");
        assert_eq!(start.value.as_deref(), Some("/usr/bin/logger a=b == c # not a comment"));
        assert_eq!(door.get("Stop_Command").and_then(|e| e.value.as_deref()), Some(""), "an empty command disables it");
    }

    #[test]
    fn repeated_keys_and_aliases_take_the_last_line() {
        let door = door("[d]\nsequence = 1\nsequence = 2,3\ntimeout = 7\nSeq_Timeout = 8\ncmd_timeout = 0\n");
        assert_eq!(door.sequence().expect("valid"), Some(seq("2,3")));
        assert_eq!(door.seconds("seq_timeout").expect("valid"), Some(8));
        assert_eq!(door.seconds("Cmd_Timeout").expect("valid"), Some(0));
        let alias_last = self::door("[d]\nsequence = 1\nseq_timeout = 8\ntimeout = 7\n");
        assert_eq!(alias_last.seconds("Seq_Timeout").expect("valid"), Some(7));
        assert_eq!(alias_last.get("Seq_Timeout").map(|e| e.line), Some(3), "get ignores aliases");
    }

    #[test]
    fn section_names_are_trimmed() {
        let conf = conf("[ open SSH ]\nsequence = 1\n");
        assert_eq!(conf.doors[0].name, "open SSH");
        assert_eq!(conf.doors[0].to_string(), "[open SSH]");
    }

    #[test]
    fn a_file_without_options_or_doors_is_syntactically_fine() {
        assert_eq!(conf(""), KnockdConf::default());
        assert_eq!(conf("# only comments\n\n"), KnockdConf::default());
        assert!(conf("[d]\nsequence = 1\n").options.is_none());
    }

    #[test]
    fn syntax_errors_name_their_line_and_the_fix() {
        assert_error(&error("# c\nsequence = 1\n"), 2, &["outside any section"]);
        assert_error(
            &error("[d]\nsequence = 1\nsequence 7000\n"),
            3,
            &["\"sequence 7000\"", "key = value", "UseSyslog"],
        );
        assert_error(&error("[d]\n = 7000\n"), 2, &["missing key"]);

        assert_error(&error("[options]\n[openSSH\n"), 2, &["malformed section header \"[openSSH\""]);
        assert_error(&error("[d] # door\n"), 1, &["malformed", "own line"]);
        assert_error(&error("[a]b]\n"), 1, &["malformed"]);
        assert_error(&error("[d]\n[ ]\n"), 2, &["empty section name"]);
    }

    fn value_error(text: &str, check: impl FnOnce(&Section) -> Result<(), ConfError>) -> ConfError {
        match check(&door(text)) {
            Ok(()) => panic!("{text:?} should be refused"),
            Err(err) => err,
        }
    }

    fn sequence_error(text: &str) -> ConfError {
        value_error(text, |d| d.sequence().map(drop))
    }

    #[test]
    fn sequences_are_checked_like_knockd_but_strictly() {
        let thirty_two: Vec<String> = (1..=32).map(|p| p.to_string()).collect();
        let door = door(&format!("[d]\nsequence = {}\n", thirty_two.join(",")));
        assert_eq!(door.sequence().expect("32 hits").map(|s| s.len()), Some(32));

        let thirty_three: Vec<String> = (1..=33).map(|p| p.to_string()).collect();
        let e = sequence_error(&format!("[d]\n\nsequence = {}\n", thirty_three.join(",")));
        assert_error(&e, 3, &["sequence: 33 hits", "at most 32"]);
        assert_eq!(e.key(), Some("sequence"));

        let e = sequence_error("[d]\nsequence = 7000:icmp\n");
        assert_error(&e, 2, &["sequence: ", "\"7000:icmp\"", "unknown protocol \"icmp\"", "tcp|udp"]);
        assert_error(&sequence_error("[d]\nsequence = 70000\n"), 2, &["between 1 and 65535"]);
        assert_error(&sequence_error("[d]\nsequence = 0\n"), 2, &["between 1 and 65535"]);
        assert_error(&sequence_error("[d]\nsequence = -1\n"), 2, &["not a number"]);
        assert_error(&sequence_error("[d]\nsequence =\n"), 2, &["empty value", "7000,8000:udp,9000"]);
        assert_error(&sequence_error("[d]\nsequence = 7000,,8000\n"), 2, &["empty hit"]);
        assert_error(
            &sequence_error("[d]\nsequence = 7000 8000, 9000\n"),
            2,
            &["separated by commas", "\"7000 8000\"", "port 7000 alone", "write 7000,8000"],
        );
        assert_error(
            &sequence_error("[d]\nsequence = 7000,8000 # old\n"),
            2,
            &["sequence: \"7000,8000 # old\": ", "no end-of-line comments", "line of its own"],
        );
    }

    #[test]
    fn tcp_flags_follow_knockd() {
        let flags = |text: &str| self::door(&format!("[d]\nsequence = 1\n{text}\n")).tcp_flags();
        assert_eq!(flags("").expect("absent"), None);
        let fin_not_ack = flags("tcpflags = fin,!ack").expect("man page example").expect("set");
        assert_eq!((fin_not_ack.set, fin_not_ack.clear), (TcpFlags::FIN, TcpFlags::ACK));
        let tcp_error = |text: &str| value_error(&format!("[d]\nsequence = 1\n{text}\n"), |d| d.tcp_flags().map(drop));
        assert_error(&tcp_error("tcpflags = syn|ack"), 3, &["tcpflags: ", "commas, not '|'"]);
        assert_error(&tcp_error("TCPFlags = syn,ecn"), 3, &["TCPFlags: ", "\"ecn\"", "valid: fin, syn"]);
        assert_error(&tcp_error("tcpflags ="), 3, &["empty value", "syn,!ack"]);
        assert_error(&tcp_error("tcpflags = syn,!syn"), 3, &["both required and forbidden"]);
    }

    #[test]
    fn seconds_are_non_negative_integers() {
        let secs_error =
            |text: &str| value_error(&format!("[d]\nsequence = 1\n{text}\n"), |d| d.seconds("seq_timeout").map(drop));
        for bad in ["-5", "5s", "1.5", "five", "99999999999999999999999"] {
            assert_error(&secs_error(&format!("seq_timeout = {bad}")), 3, &["whole number of seconds"]);
        }
        assert_error(&secs_error("timeout = 5 # s"), 3, &["timeout: ", "end-of-line comments"]);
        assert_error(&secs_error("seq_timeout ="), 3, &["empty value"]);
    }

    #[test]
    fn unknown_keys_are_reported_by_check_keys_only() {
        let conf = conf("[options]\nLogFile = /x\n[d]\nsequence = 1\nLogFile = /y\nfrobnicate = 2\n");
        let door = &conf.doors[0];
        let unknown: Vec<usize> = door.unknown_keys().map(|e| e.line).collect();
        assert_eq!(unknown, [5, 6], "LogFile is global only");
        assert_error(&conf.check_keys().expect_err("unknown"), 5, &["LogFile: unknown key in a door", "Sequence"]);
        let options = self::conf("[options]\nsequence = 1\n");
        assert_error(
            &options.check_keys().expect_err("door key in options"),
            2,
            &[
                "unknown key in [options]",
                "LogFile, PidFile, Interface, Public_Ports, Fwknop_Access, Fwknop_Allow_No_Hmac, UseSyslog",
            ],
        );
    }

    #[test]
    fn file_errors_carry_the_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("knockd.conf");
        fs::write(&path, "[d]\nsequence = 1\n").expect("write");
        assert_eq!(parse_file(&path).expect("valid").doors.len(), 1);
        fs::write(&path, "[d]\nsequence 1\n").expect("write");
        let err = parse_file(&path).expect_err("invalid");
        assert_eq!(err.path(), Some(path.as_path()));
        assert!(err.to_string().starts_with(&format!("{}:2: ", path.display())), "{err}");
        let missing = dir.path().join("missing.conf");
        let err = parse_file(&missing).expect_err("missing");
        assert!(matches!(err, ConfError::Read { .. }));
        assert!(err.to_string().contains("missing.conf"), "{err}");
        let entry_error =
            ConfError::at_entry(&Entry { key: "Sequence".into(), value: Some("x".into()), line: 9 }, "bad")
                .in_file("/etc/knockd.conf");
        assert_eq!(entry_error.to_string(), "/etc/knockd.conf:9: Sequence: bad");
    }

    #[test]
    fn standalone_value_parsers_serve_one_time_sequence_files() {
        assert_eq!(parse_sequence(" 1000,2000:udp"), Ok(seq("1000,2000:udp")));
        assert!(matches!(parse_sequence("  "), Err(ValueError::Empty { .. })));
        assert_eq!(parse_seconds("25"), Ok(DEFAULT_SEQ_TIMEOUT_SECS));
    }

    #[test]
    fn repeated_sections_are_accepted_as_knockd_accepts_them() {
        let conf = conf(
            "[options]\n LogFile = /a\n[d]\n sequence = 1\n[Options]\n LogFile = /b\n PidFile = /p\n[D]\n sequence = 2\n",
        );
        assert_eq!(conf.merged_options, [5], "the second [options] is merged");
        assert_eq!(conf.option("LogFile").and_then(|e| e.value.as_deref()), Some("/b"), "the last line wins");
        assert_eq!(conf.option("PidFile").and_then(|e| e.value.as_deref()), Some("/p"));
        assert_eq!(conf.doors.len(), 2, "both doors are kept");
        let duplicates = conf.duplicate_doors();
        assert_eq!(duplicates.len(), 1);
        assert_eq!((duplicates[0].0.line, duplicates[0].1.line), (8, 3));
    }
}
