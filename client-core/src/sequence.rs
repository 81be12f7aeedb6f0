//! Knock sequences: hits (`PORT[:PROTO]`) and TCP flag selections, with their parsing and printing.
//!
//! The grammar is knockd.conf's, made strict: a hit is a port 1..=65535 optionally followed by `:tcp` or
//! `:udp` (case-insensitive). knock(1) silently sends anything that is not exactly `udp` as TCP; here every
//! other suffix is an error that names the token, because a guessed hit breaks the sequence anyway.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// The transport protocol of one hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Protocol {
    type Err = SequenceError;
    /// `tcp` or `udp`, case-insensitive.
    fn from_str(text: &str) -> Result<Protocol, SequenceError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "tcp" => Ok(Protocol::Tcp),
            "udp" => Ok(Protocol::Udp),
            _ => Err(SequenceError::UnknownProtocol { token: text.to_owned() }),
        }
    }
}

/// One hit of a sequence: a destination port and the protocol to reach it with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hit {
    pub port: u16,
    pub protocol: Protocol,
}

impl Hit {
    pub const fn tcp(port: u16) -> Hit {
        Hit { port, protocol: Protocol::Tcp }
    }

    pub const fn udp(port: u16) -> Hit {
        Hit { port, protocol: Protocol::Udp }
    }

    /// Parses `PORT[:PROTO]`; a token without a suffix gets `default_protocol`.
    pub fn parse(token: &str, default_protocol: Protocol) -> Result<Hit, SequenceError> {
        let trimmed = token.trim();
        let invalid = |reason| SequenceError::InvalidHit { token: token.to_owned(), reason };
        if trimmed.is_empty() {
            return Err(invalid(HitProblem::Empty));
        }
        let (port_text, protocol) = match trimmed.split_once(':') {
            None => (trimmed, default_protocol),
            Some((port, suffix)) => {
                let protocol = if suffix.eq_ignore_ascii_case("tcp") {
                    Protocol::Tcp
                } else if suffix.eq_ignore_ascii_case("udp") {
                    Protocol::Udp
                } else {
                    return Err(invalid(HitProblem::UnknownProtocol(suffix.to_owned())));
                };
                (port, protocol)
            }
        };
        if port_text.is_empty() || !port_text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(HitProblem::NotAPort));
        }
        let port = match port_text.parse::<u32>() {
            Ok(0) => return Err(invalid(HitProblem::PortOutOfRange)),
            Ok(port) => u16::try_from(port).map_err(|_| invalid(HitProblem::PortOutOfRange))?,
            // All digits but too long for u32: certainly out of range.
            Err(_) => return Err(invalid(HitProblem::PortOutOfRange)),
        };
        Ok(Hit { port, protocol })
    }
}

impl fmt::Display for Hit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.port, self.protocol)
    }
}

impl FromStr for Hit {
    type Err = SequenceError;
    fn from_str(s: &str) -> Result<Hit, SequenceError> {
        Hit::parse(s, Protocol::Tcp)
    }
}

/// Why a hit token was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HitProblem {
    Empty,
    NotAPort,
    PortOutOfRange,
    UnknownProtocol(String),
}

impl fmt::Display for HitProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HitProblem::Empty => f.write_str("it holds an empty hit"),
            HitProblem::NotAPort => f.write_str("the port is not a number"),
            HitProblem::PortOutOfRange => f.write_str("the port must be between 1 and 65535"),
            HitProblem::UnknownProtocol(p) => write!(f, "unknown protocol {p:?}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SequenceError {
    #[error("invalid hit {token:?}: {reason} (expected PORT[:tcp|udp], PORT in 1..=65535)")]
    InvalidHit { token: String, reason: HitProblem },
    #[error("empty sequence: give at least one hit, e.g. 7000,8000,9000:udp")]
    EmptySequence,
    #[error("invalid protocol {token:?} (valid: tcp, udp)")]
    UnknownProtocol { token: String },
    #[error("invalid TCP flag {token:?} (valid: fin, syn, rst, psh, ack, urg, each optionally prefixed by !)")]
    UnknownFlag { token: String },
    #[error("TCP flag {flag} is both required and forbidden in {spec:?}")]
    ContradictoryFlag { flag: &'static str, spec: String },
    #[error("TCP flags {spec:?} set no flag: a hit needs at least one flag set (e.g. syn)")]
    NoFlagSet { spec: String },
}

/// A sequence of hits, in order. It may remember the text it was written as (`7000,8000:udp`), so a
/// profile file or the desktop app's editor writes it back as the user wrote it; equality compares the
/// hits only.
#[derive(Debug, Clone, Default)]
pub struct Sequence(Vec<Hit>, Option<Box<str>>);

impl PartialEq for Sequence {
    fn eq(&self, other: &Sequence) -> bool {
        self.0 == other.0
    }
}

impl Eq for Sequence {}

/// A sequence of one hit (never empty, so it cannot fail): an SPA datagram to fwknopd's port.
impl From<Hit> for Sequence {
    fn from(hit: Hit) -> Sequence {
        Sequence(vec![hit], None)
    }
}

impl Sequence {
    pub fn new(hits: Vec<Hit>) -> Result<Sequence, SequenceError> {
        if hits.is_empty() {
            return Err(SequenceError::EmptySequence);
        }
        Ok(Sequence(hits, None))
    }

    /// Parses `text` like [`Sequence::parse`] and remembers it (trimmed) as the sequence's written form.
    pub fn parse_as_written(text: &str, default_protocol: Protocol) -> Result<Sequence, SequenceError> {
        let mut sequence = Sequence::parse(text, default_protocol)?;
        sequence.1 = Some(text.trim().into());
        Ok(sequence)
    }

    /// The text the sequence was written as, else its knockd.conf form (`7000:tcp,8000:udp`).
    pub fn as_written(&self) -> std::borrow::Cow<'_, str> {
        match &self.1 {
            Some(text) => std::borrow::Cow::Borrowed(text),
            None => std::borrow::Cow::Owned(self.to_string()),
        }
    }

    /// Parses hits separated by commas and/or whitespace (`1300,8888:udp 9394`), as knockd.conf writes them.
    pub fn parse(text: &str, default_protocol: Protocol) -> Result<Sequence, SequenceError> {
        Sequence::parse_tokens(std::iter::once(text), default_protocol)
    }

    /// Parses several arguments, each of which may itself hold a comma-separated list (command lines).
    pub fn parse_tokens<'a>(
        args: impl IntoIterator<Item = &'a str>,
        default_protocol: Protocol,
    ) -> Result<Sequence, SequenceError> {
        let mut hits = Vec::new();
        for arg in args {
            for item in arg.split(',') {
                let mut words = item.split_whitespace().peekable();
                if words.peek().is_none() {
                    // `7000,,8000`, a trailing comma or an empty argument: name the whole argument.
                    return Err(SequenceError::InvalidHit { token: arg.to_owned(), reason: HitProblem::Empty });
                }
                for word in words {
                    hits.push(Hit::parse(word, default_protocol)?);
                }
            }
        }
        Sequence::new(hits)
    }

    pub fn hits(&self) -> &[Hit] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Sequence {
    /// Prints the knockd.conf form, `7000:tcp,8000:udp`, which parses back to the same sequence.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, hit) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{hit}")?;
        }
        Ok(())
    }
}

impl FromStr for Sequence {
    type Err = SequenceError;
    fn from_str(s: &str) -> Result<Sequence, SequenceError> {
        Sequence::parse(s, Protocol::Tcp)
    }
}

/// A set of TCP header flags, with the header's bit values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(u8);

impl TcpFlags {
    pub const FIN: TcpFlags = TcpFlags(0x01);
    pub const SYN: TcpFlags = TcpFlags(0x02);
    pub const RST: TcpFlags = TcpFlags(0x04);
    pub const PSH: TcpFlags = TcpFlags(0x08);
    pub const ACK: TcpFlags = TcpFlags(0x10);
    pub const URG: TcpFlags = TcpFlags(0x20);
    pub const NONE: TcpFlags = TcpFlags(0);

    /// Every flag with its knockd.conf name, in header bit order.
    pub const NAMED: [(&'static str, TcpFlags); 6] = [
        ("fin", TcpFlags::FIN),
        ("syn", TcpFlags::SYN),
        ("rst", TcpFlags::RST),
        ("psh", TcpFlags::PSH),
        ("ack", TcpFlags::ACK),
        ("urg", TcpFlags::URG),
    ];

    pub const fn from_bits(bits: u8) -> TcpFlags {
        TcpFlags(bits & 0x3f)
    }

    pub const fn bits(self) -> u8 {
        self.0
    }

    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    pub const fn intersects(self, other: TcpFlags) -> bool {
        self.0 & other.0 != 0
    }

    pub const fn union(self, other: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | other.0)
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    fn named(name: &str) -> Option<TcpFlags> {
        TcpFlags::NAMED.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, f)| *f)
    }
}

impl fmt::Display for TcpFlags {
    /// `syn,ack`; `none` for the empty set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> =
            TcpFlags::NAMED.iter().filter(|(_, flag)| self.contains(*flag)).map(|(name, _)| *name).collect();
        if names.is_empty() { f.write_str("none") } else { f.write_str(&names.join(",")) }
    }
}

/// A knockd-style flag selection: flags that must be set and flags (written `!flag`) that must be clear.
///
/// A client sends exactly the `set` flags; a server matches a packet when all of `set` are present and none
/// of `clear` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TcpFlagSpec {
    pub set: TcpFlags,
    pub clear: TcpFlags,
}

impl Default for TcpFlagSpec {
    /// A plain SYN, what knock(1) and the kernel's connect() send.
    fn default() -> Self {
        TcpFlagSpec { set: TcpFlags::SYN, clear: TcpFlags::NONE }
    }
}

impl TcpFlagSpec {
    /// Parses `syn,!ack`: comma-separated flag names, case-insensitive, `!` negates.
    pub fn parse(text: &str) -> Result<TcpFlagSpec, SequenceError> {
        let mut spec = TcpFlagSpec { set: TcpFlags::NONE, clear: TcpFlags::NONE };
        for raw in text.split(',') {
            let token = raw.trim();
            let (negated, name) = match token.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, token),
            };
            let flag = TcpFlags::named(name).ok_or_else(|| SequenceError::UnknownFlag { token: token.to_owned() })?;
            if negated {
                spec.clear = spec.clear.union(flag);
            } else {
                spec.set = spec.set.union(flag);
            }
        }
        if let Some((name, _)) = TcpFlags::NAMED.iter().find(|(_, f)| spec.set.contains(*f) && spec.clear.contains(*f))
        {
            return Err(SequenceError::ContradictoryFlag { flag: name, spec: text.to_owned() });
        }
        Ok(spec)
    }

    /// Checks that a client can send this selection: it must set at least one flag.
    pub fn sendable(self) -> Result<TcpFlags, SequenceError> {
        if self.set.is_empty() {
            return Err(SequenceError::NoFlagSet { spec: self.to_string() });
        }
        Ok(self.set)
    }

    /// Whether a packet with `flags` satisfies this selection (server side).
    pub fn matches(self, flags: TcpFlags) -> bool {
        flags.contains(self.set) && !flags.intersects(self.clear)
    }

    /// True for the plain SYN that an unprivileged connect() can produce.
    pub fn is_plain_syn(self) -> bool {
        self.set == TcpFlags::SYN
    }
}

impl fmt::Display for TcpFlagSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        for (name, flag) in TcpFlags::NAMED {
            if self.set.contains(flag) {
                parts.push(name.to_owned());
            }
        }
        for (name, flag) in TcpFlags::NAMED {
            if self.clear.contains(flag) {
                parts.push(format!("!{name}"));
            }
        }
        f.write_str(&parts.join(","))
    }
}

impl FromStr for TcpFlagSpec {
    type Err = SequenceError;
    fn from_str(s: &str) -> Result<TcpFlagSpec, SequenceError> {
        TcpFlagSpec::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit_err(token: &str) -> String {
        Hit::parse(token, Protocol::Tcp).expect_err(token).to_string()
    }

    #[test]
    fn hits_parse_with_default_and_explicit_protocols() {
        assert_eq!(Hit::parse("7000", Protocol::Tcp), Ok(Hit::tcp(7000)));
        assert_eq!(Hit::parse("7000", Protocol::Udp), Ok(Hit::udp(7000)));
        assert_eq!(Hit::parse("7000:udp", Protocol::Tcp), Ok(Hit::udp(7000)));
        assert_eq!(Hit::parse("7000:UDP", Protocol::Tcp), Ok(Hit::udp(7000)), "knock(1) sends this as TCP");
        assert_eq!(Hit::parse("7000:Tcp", Protocol::Udp), Ok(Hit::tcp(7000)));
        assert_eq!(Hit::parse(" 1 ", Protocol::Tcp), Ok(Hit::tcp(1)));
        assert_eq!(Hit::parse("65535", Protocol::Tcp), Ok(Hit::tcp(65535)));
        assert_eq!(Hit::parse("007000", Protocol::Tcp), Ok(Hit::tcp(7000)));
    }

    #[test]
    fn bad_hits_name_the_token_and_the_rule() {
        let e = hit_err("7000:foo");
        assert!(e.contains("\"7000:foo\"") && e.contains("unknown protocol \"foo\""), "{e}");
        let e = hit_err("70000");
        assert!(e.contains("\"70000\"") && e.contains("between 1 and 65535"), "{e}");
        assert!(hit_err("0").contains("between 1 and 65535"));
        assert!(hit_err("99999999999999999999").contains("between 1 and 65535"));
        assert!(hit_err("").contains("empty"));
        for bad in ["-1", "+7000", "70 00x", "0x1b58", "7000:", ":udp", "abc", "7000:udp:tcp", "1e3"] {
            assert!(Hit::parse(bad, Protocol::Tcp).is_err(), "{bad} must be rejected");
        }
    }

    #[test]
    fn sequences_accept_commas_and_whitespace_and_round_trip() {
        let seq = Sequence::parse("1300,8888:udp, 9394", Protocol::Tcp).expect("knockd.conf form");
        assert_eq!(seq.hits(), &[Hit::tcp(1300), Hit::udp(8888), Hit::tcp(9394)]);
        assert_eq!(seq.to_string(), "1300:tcp,8888:udp,9394:tcp");
        assert_eq!(seq.to_string().parse::<Sequence>(), Ok(seq));
        let args = Sequence::parse_tokens(["7000", "8000:udp,9000"], Protocol::Tcp).expect("args");
        assert_eq!(args.len(), 3);
    }

    #[test]
    fn empty_items_and_sequences_are_errors() {
        assert_eq!(
            Sequence::parse("", Protocol::Tcp),
            Err(SequenceError::InvalidHit { token: String::new(), reason: HitProblem::Empty })
        );
        let e = Sequence::parse("7000,,8000", Protocol::Tcp).expect_err("double comma").to_string();
        assert!(e.contains("\"7000,,8000\""), "{e}");
        assert!(Sequence::parse("7000,", Protocol::Tcp).is_err());
        assert_eq!(Sequence::parse_tokens([], Protocol::Tcp), Err(SequenceError::EmptySequence));
        assert_eq!(Sequence::new(vec![]), Err(SequenceError::EmptySequence));
    }

    #[test]
    fn flag_specs_parse_negation_and_print_back() {
        let spec = TcpFlagSpec::parse("SYN, !ack").expect("spec");
        assert_eq!(spec, TcpFlagSpec { set: TcpFlags::SYN, clear: TcpFlags::ACK });
        assert_eq!(spec.to_string(), "syn,!ack");
        assert_eq!(spec.to_string().parse::<TcpFlagSpec>(), Ok(spec));
        let all = TcpFlagSpec::parse("fin,syn,rst,psh,ack,urg").expect("all");
        assert_eq!(all.set.bits(), 0x3f);
        assert_eq!(all.set.to_string(), "fin,syn,rst,psh,ack,urg");
        assert!(TcpFlagSpec::default().is_plain_syn());
        assert!(!TcpFlagSpec::parse("syn,ack").expect("synack").is_plain_syn());
        assert!(TcpFlagSpec::parse("syn,!ack").expect("syn!ack").is_plain_syn());
    }

    #[test]
    fn bad_flag_specs_are_explained() {
        let e = TcpFlagSpec::parse("syn,ecn").expect_err("ecn").to_string();
        assert!(e.contains("\"ecn\"") && e.contains("valid: fin, syn, rst, psh, ack, urg"), "{e}");
        assert!(TcpFlagSpec::parse("").is_err());
        assert!(TcpFlagSpec::parse("syn,,ack").is_err());
        let e = TcpFlagSpec::parse("syn,!syn").expect_err("contradiction").to_string();
        assert!(e.contains("syn is both required and forbidden"), "{e}");
        let only_negations = TcpFlagSpec::parse("!ack").expect("parses");
        assert!(only_negations.sendable().is_err(), "a client cannot send an empty flag set");
    }

    #[test]
    fn flag_matching_is_knockds() {
        let spec = TcpFlagSpec::parse("syn,!ack").expect("spec");
        assert!(spec.matches(TcpFlags::SYN));
        assert!(spec.matches(TcpFlags::SYN.union(TcpFlags::PSH)));
        assert!(!spec.matches(TcpFlags::SYN.union(TcpFlags::ACK)));
        assert!(!spec.matches(TcpFlags::FIN));
        assert_eq!(TcpFlags::from_bits(0xff).bits(), 0x3f, "ECE/CWR are not knock flags");
    }
}
