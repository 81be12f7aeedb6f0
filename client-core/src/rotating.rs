//! Rotating sequences: a knock sequence derived from a shared door key and the time, so a sequence seen on
//! the wire is worth nothing once its window has passed (and, with the server's one-use rule, not even
//! inside it). Always built: the client computes the sequence, `knock-server` recognises it.
//!
//! The derivation is an open format, written down with test vectors in `docs/rotating-sequences.md`, so a
//! phone app or a shell script with openssl can interoperate:
//!
//! 1. `T = floor(unix_time / step)` (step 30 s by default).
//! 2. Block `i` (i = 0, 1, ...) is `HMAC-SHA256(key, "knock-rotating-v1" 0x00 door 0x00 T_be64 i_be32)`.
//! 3. Each block gives 16 candidates, its bytes read as big-endian u16 pairs. With `n` ports in the range
//!    `lo..=hi`, a candidate `c` is rejected when `c >= 65536 - 65536 % n` (no modulo bias); otherwise the
//!    port is `lo + c % n`, skipped when excluded or already chosen. Blocks continue until `length` ports
//!    are chosen.
//! 4. Position `k` uses protocol `template[k]` (all TCP without a template).

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use thiserror::Error;
use zeroize::Zeroizing;

use crate::sequence::{Hit, Protocol, Sequence};

/// The version label mixed into every block: a future derivation gets a new label.
pub const LABEL: &[u8] = b"knock-rotating-v1";
/// At least this many key bytes (128 bits).
pub const MIN_KEY_BYTES: usize = 16;
/// At most this many hits in a rotating sequence.
pub const MAX_LENGTH: usize = 16;
/// Blocks to try before giving up (only reachable with absurd exclusions; validation prevents it).
const MAX_BLOCKS: u32 = 4096;

/// A door key: at least 128 random bits, written as unpadded base32 (like TOTP secrets). Prints masked;
/// wiped on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct DoorKey(Zeroizing<Vec<u8>>);

impl DoorKey {
    /// Parses base32 (RFC 4648, case-insensitive, spaces and `=` padding ignored).
    pub fn from_base32(text: &str) -> Result<DoorKey, RotatingError> {
        let cleaned: String =
            text.chars().filter(|c| !c.is_whitespace() && *c != '=').map(|c| c.to_ascii_uppercase()).collect();
        let bytes = data_encoding::BASE32_NOPAD.decode(cleaned.as_bytes()).map_err(|_| RotatingError::KeyNotBase32)?;
        DoorKey::from_bytes(bytes)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Result<DoorKey, RotatingError> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(RotatingError::KeyTooShort { bits: bytes.len() * 8 });
        }
        Ok(DoorKey(Zeroizing::new(bytes)))
    }

    /// The key as unpadded upper-case base32, for the one place that shows it once.
    pub fn to_base32(&self) -> String {
        data_encoding::BASE32_NOPAD.encode(&self.0)
    }
}

impl fmt::Debug for DoorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DoorKey({} bits, ***)", self.0.len() * 8)
    }
}

impl fmt::Display for DoorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A door's rotating parameters (everything but the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The door's name, mixed into every block: two doors with one key never share sequences.
    pub door: String,
    /// Window length in seconds.
    pub step: u64,
    /// Hits per sequence.
    pub length: usize,
    /// Ports are drawn from `range.0..=range.1`.
    pub range: (u16, u16),
    /// Protocol per position; empty means all TCP.
    pub protocols: Vec<Protocol>,
    /// Ports never used (the door's service port, for one).
    pub exclude: Vec<u16>,
}

impl Rotation {
    pub const DEFAULT_STEP: u64 = 30;
    pub const DEFAULT_LENGTH: usize = 4;
    pub const DEFAULT_RANGE: (u16, u16) = (1024, 65535);

    pub fn new(door: impl Into<String>) -> Rotation {
        Rotation {
            door: door.into(),
            step: Rotation::DEFAULT_STEP,
            length: Rotation::DEFAULT_LENGTH,
            range: Rotation::DEFAULT_RANGE,
            protocols: Vec::new(),
            exclude: Vec::new(),
        }
    }

    /// Refuses parameters that cannot give a sequence: an empty door name, a zero step, a length outside
    /// 1..=16, a reversed range or one that cannot hold `length` distinct ports, a template of another length.
    pub fn validate(&self) -> Result<(), RotatingError> {
        if self.door.is_empty() {
            return Err(RotatingError::EmptyDoor);
        }
        if self.step == 0 {
            return Err(RotatingError::ZeroStep);
        }
        if !(1..=MAX_LENGTH).contains(&self.length) {
            return Err(RotatingError::Length { length: self.length });
        }
        let (lo, hi) = self.range;
        if lo == 0 || lo > hi {
            return Err(RotatingError::Range { lo, hi, length: self.length });
        }
        let excluded_inside = {
            let mut inside: Vec<u16> = self.exclude.iter().copied().filter(|p| (lo..=hi).contains(p)).collect();
            inside.sort_unstable();
            inside.dedup();
            inside.len()
        };
        let usable = usize::from(hi - lo) + 1 - excluded_inside;
        if usable < self.length {
            return Err(RotatingError::Range { lo, hi, length: self.length });
        }
        if !self.protocols.is_empty() && self.protocols.len() != self.length {
            return Err(RotatingError::Template { template: self.protocols.len(), length: self.length });
        }
        Ok(())
    }

    /// The window of `unix_time`.
    pub fn window(&self, unix_time: u64) -> u64 {
        unix_time / self.step.max(1)
    }

    /// Seconds left in the window of `unix_time`.
    pub fn seconds_left(&self, unix_time: u64) -> u64 {
        let step = self.step.max(1);
        step - unix_time % step
    }

    /// The sequence of window `t` under `key`.
    pub fn sequence(&self, key: &DoorKey, t: u64) -> Result<Sequence, RotatingError> {
        self.validate()?;
        let ports = self.ports(key, t)?;
        let hits = ports
            .iter()
            .enumerate()
            .map(|(k, &port)| Hit { port, protocol: self.protocols.get(k).copied().unwrap_or(Protocol::Tcp) })
            .collect();
        Sequence::new(hits).map_err(|_| RotatingError::Length { length: self.length })
    }

    fn ports(&self, key: &DoorKey, t: u64) -> Result<Vec<u16>, RotatingError> {
        let (lo, hi) = self.range;
        let n = u32::from(hi - lo) + 1;
        let limit = 65536 - 65536 % n;
        let mut chosen: Vec<u16> = Vec::with_capacity(self.length);
        for block in 0..MAX_BLOCKS {
            let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key.0).map_err(|_| RotatingError::KeyNotBase32)?;
            mac.update(LABEL);
            mac.update(&[0]);
            mac.update(self.door.as_bytes());
            mac.update(&[0]);
            mac.update(&t.to_be_bytes());
            mac.update(&block.to_be_bytes());
            let bytes = mac.finalize().into_bytes();
            for pair in bytes.chunks_exact(2) {
                let candidate = u32::from(u16::from_be_bytes([pair[0], pair[1]]));
                if candidate >= limit {
                    continue;
                }
                // candidate % n < n <= 65535 - lo + 1, so the sum stays within u16.
                let port = u16::try_from(u32::from(lo) + candidate % n).map_err(|_| RotatingError::Exhausted)?;
                if self.exclude.contains(&port) || chosen.contains(&port) {
                    continue;
                }
                chosen.push(port);
                if chosen.len() == self.length {
                    return Ok(chosen);
                }
            }
        }
        Err(RotatingError::Exhausted)
    }
}

/// The one-line provisioning string the server prints for a new user:
/// `knock+rotating://HOST/DOOR?key=BASE32&step=30&length=4&range=1024-65535&protocols=tcp,udp,tcp,tcp`
/// (defaults left out; `exclude=22,2222` when the door excludes ports; `verify=22`, the service port the
/// client probes to see the door open, when the server names it; HOST and DOOR percent-encoded, an IPv6
/// host in brackets). It carries the key: treat it as a secret. A URI without `verify=` (older servers)
/// is still valid.
pub const URI_SCHEME: &str = "knock+rotating://";

/// Builds the provisioning URI of `rotation` at `host` with `key` (and the service port to verify, if
/// known).
pub fn format_uri(host: &str, rotation: &Rotation, key: &DoorKey, verify_port: Option<std::num::NonZeroU16>) -> String {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    let host = match host.parse::<std::net::Ipv6Addr>() {
        Ok(v6) => format!("[{v6}]"),
        Err(_) => utf8_percent_encode(host, NON_ALPHANUMERIC).to_string().replace("%2E", ".").replace("%2D", "-"),
    };
    let mut uri =
        format!("{URI_SCHEME}{host}/{}?key={}", utf8_percent_encode(&rotation.door, NON_ALPHANUMERIC), key.to_base32());
    if rotation.step != Rotation::DEFAULT_STEP {
        uri.push_str(&format!("&step={}", rotation.step));
    }
    if rotation.length != Rotation::DEFAULT_LENGTH {
        uri.push_str(&format!("&length={}", rotation.length));
    }
    if rotation.range != Rotation::DEFAULT_RANGE {
        uri.push_str(&format!("&range={}-{}", rotation.range.0, rotation.range.1));
    }
    if !rotation.protocols.is_empty() {
        let list: Vec<&str> = rotation.protocols.iter().map(|p| p.as_str()).collect();
        uri.push_str(&format!("&protocols={}", list.join(",")));
    }
    if !rotation.exclude.is_empty() {
        let list: Vec<String> = rotation.exclude.iter().map(u16::to_string).collect();
        uri.push_str(&format!("&exclude={}", list.join(",")));
    }
    if let Some(port) = verify_port {
        uri.push_str(&format!("&verify={port}"));
    }
    uri
}

/// What a provisioning URI holds.
#[derive(Debug)]
pub struct Provisioning {
    pub host: String,
    pub rotation: Rotation,
    pub key: DoorKey,
    /// The TCP service port behind the door (`verify=`), to probe after knocking.
    pub verify_port: Option<std::num::NonZeroU16>,
}

/// Parses a provisioning URI; every error names the part that is wrong (never the key's value).
pub fn parse_uri(uri: &str) -> Result<Provisioning, RotatingError> {
    let bad = |why: &str| RotatingError::Uri { why: why.to_owned() };
    let rest = uri.trim().strip_prefix(URI_SCHEME).ok_or_else(|| bad("it does not start with knock+rotating://"))?;
    let (location, query) = rest.split_once('?').ok_or_else(|| bad("it has no ?key=..."))?;
    let (host, door) = location.split_once('/').ok_or_else(|| bad("it has no /DOOR after the host"))?;
    let decode = |part: &str, what: &str| {
        percent_encoding::percent_decode_str(part)
            .decode_utf8()
            .map(|text| text.into_owned())
            .map_err(|_| bad(&format!("the {what} is not UTF-8")))
    };
    let host = decode(host.trim_start_matches('[').trim_end_matches(']'), "host")?;
    let door = decode(door, "door")?;
    if host.is_empty() {
        return Err(bad("the host is empty"));
    }
    let mut rotation = Rotation::new(door);
    let mut key = None;
    let mut verify_port = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').ok_or_else(|| bad("a query part has no ="))?;
        let number = |what: &str| value.parse().map_err(|_| bad(&format!("{what} is not a number")));
        match name {
            "key" => key = Some(DoorKey::from_base32(value)?),
            "step" => rotation.step = number("step")?,
            "length" => rotation.length = number("length")? as usize,
            "range" => {
                let (lo, hi) = value.split_once('-').ok_or_else(|| bad("range is not LOW-HIGH"))?;
                rotation.range = (
                    lo.parse().map_err(|_| bad("range is not LOW-HIGH"))?,
                    hi.parse().map_err(|_| bad("range is not LOW-HIGH"))?,
                );
            }
            "protocols" => {
                rotation.protocols = value
                    .split(',')
                    .map(|p| p.parse::<Protocol>().map_err(|_| bad("protocols are not tcp/udp")))
                    .collect::<Result<_, _>>()?;
            }
            "exclude" => {
                rotation.exclude = value
                    .split(',')
                    .map(|p| p.parse::<u16>().map_err(|_| bad("exclude is not a list of ports")))
                    .collect::<Result<_, _>>()?;
            }
            "verify" => {
                verify_port = Some(value.parse().map_err(|_| bad("verify is not a TCP port (1-65535)"))?);
            }
            other => return Err(bad(&format!("unknown parameter {other:?}"))),
        }
    }
    let key = key.ok_or_else(|| bad("it has no key="))?;
    rotation.validate()?;
    Ok(Provisioning { host, rotation, key, verify_port })
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RotatingError {
    #[error("invalid knock+rotating:// URI: {why}")]
    Uri { why: String },
    #[error("the door key is not base32 (RFC 4648: letters A-Z and digits 2-7)")]
    KeyNotBase32,
    #[error("the door key has {bits} bits: at least {} are needed", MIN_KEY_BYTES * 8)]
    KeyTooShort { bits: usize },
    #[error("a rotating door needs a name")]
    EmptyDoor,
    #[error("the window step must be at least 1 second")]
    ZeroStep,
    #[error("a rotating sequence has 1 to {MAX_LENGTH} hits, not {length}")]
    Length { length: usize },
    #[error("the range {lo}-{hi} cannot hold {length} distinct ports (ports 1-65535, low to high, minus exclusions)")]
    Range { lo: u16, hi: u16, length: usize },
    #[error("the protocol template has {template} entries but the sequence has {length} hits")]
    Template { template: usize, length: usize },
    #[error("no sequence could be derived (the range is almost entirely excluded)")]
    Exhausted,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> DoorKey {
        DoorKey::from_base32(text).expect("key")
    }

    /// The vectors of docs/rotating-sequences.md (the e2e tests also recompute them with Python's hmac).
    #[test]
    fn the_documented_vectors_hold() {
        for vector in VECTORS {
            let mut rotation = Rotation::new(vector.door);
            rotation.step = vector.step;
            rotation.length = vector.length;
            rotation.range = vector.range;
            rotation.protocols = vector.protocols.iter().map(|p| p.parse().expect("protocol")).collect();
            rotation.exclude = vector.exclude.to_vec();
            let t = rotation.window(vector.unix_time);
            assert_eq!(t, vector.window, "{}", vector.door);
            let sequence = rotation.sequence(&key(vector.key), t).expect("sequence");
            assert_eq!(sequence.to_string(), vector.sequence, "{}", vector.door);
        }
    }

    pub(crate) struct Vector {
        pub key: &'static str,
        pub door: &'static str,
        pub unix_time: u64,
        pub step: u64,
        pub window: u64,
        pub length: usize,
        pub range: (u16, u16),
        pub protocols: &'static [&'static str],
        pub exclude: &'static [u16],
        pub sequence: &'static str,
    }

    const K1: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    const K2: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA";

    pub(crate) const VECTORS: &[Vector] = &[
        Vector {
            key: K1,
            door: "ssh",
            unix_time: 1_800_000_000,
            step: 30,
            window: 60_000_000,
            length: 4,
            range: (1024, 65535),
            protocols: &[],
            exclude: &[],
            sequence: VECTOR_1,
        },
        Vector {
            key: K1,
            door: "ssh",
            unix_time: 1_800_000_030,
            step: 30,
            window: 60_000_001,
            length: 4,
            range: (1024, 65535),
            protocols: &[],
            exclude: &[],
            sequence: VECTOR_2,
        },
        Vector {
            key: K1,
            door: "web",
            unix_time: 1_800_000_000,
            step: 30,
            window: 60_000_000,
            length: 4,
            range: (1024, 65535),
            protocols: &["tcp", "udp", "tcp", "tcp"],
            exclude: &[],
            sequence: VECTOR_3,
        },
        Vector {
            key: K2,
            door: "ssh",
            unix_time: 1_700_000_000,
            step: 60,
            window: 28_333_333,
            length: 6,
            range: (40000, 40009),
            protocols: &[],
            exclude: &[40005],
            sequence: VECTOR_4,
        },
        Vector {
            key: K2,
            door: "vpn",
            unix_time: 0,
            step: 30,
            window: 0,
            length: 3,
            range: (7000, 7002),
            protocols: &["udp", "udp", "udp"],
            exclude: &[],
            sequence: VECTOR_5,
        },
    ];

    // Computed by this derivation and, independently, by tests/reference/rotating.py (Python's hmac).
    const VECTOR_1: &str = "42488:tcp,30547:tcp,7552:tcp,22513:tcp";
    const VECTOR_2: &str = "46791:tcp,59768:tcp,5413:tcp,38370:tcp";
    const VECTOR_3: &str = "53788:tcp,55513:udp,51479:tcp,49700:tcp";
    const VECTOR_4: &str = "40000:tcp,40006:tcp,40002:tcp,40004:tcp,40003:tcp,40009:tcp";
    const VECTOR_5: &str = "7000:udp,7002:udp,7001:udp";

    #[test]
    fn bad_parameters_are_refused_with_the_reason() {
        let mut r = Rotation::new("ssh");
        r.range = (40000, 40002);
        r.length = 4;
        assert!(matches!(r.validate(), Err(RotatingError::Range { .. })));
        r.range = (40000, 40003);
        r.exclude = vec![40001];
        assert!(matches!(r.validate(), Err(RotatingError::Range { .. })), "exclusions count");
        r.exclude.clear();
        assert_eq!(r.validate(), Ok(()));
        r.protocols = vec![Protocol::Tcp; 3];
        assert!(matches!(r.validate(), Err(RotatingError::Template { template: 3, length: 4 })));
        r.protocols.clear();
        r.step = 0;
        assert_eq!(r.validate(), Err(RotatingError::ZeroStep));
        r.step = 30;
        r.length = 17;
        assert!(matches!(r.validate(), Err(RotatingError::Length { .. })));
        r.length = 4;
        r.range = (2000, 1000);
        assert!(matches!(r.validate(), Err(RotatingError::Range { .. })));
        assert_eq!(DoorKey::from_base32("not base32!").expect_err("bad"), RotatingError::KeyNotBase32);
        assert_eq!(DoorKey::from_base32("JBSWY3DP").expect_err("short"), RotatingError::KeyTooShort { bits: 40 });
    }

    #[test]
    fn sequences_are_distinct_in_range_and_change_with_the_window_and_door() {
        let k = key(K1);
        let mut r = Rotation::new("ssh");
        r.exclude = vec![22, 2222];
        let a = r.sequence(&k, 100).expect("a");
        let b = r.sequence(&k, 101).expect("b");
        assert_ne!(a, b);
        let mut other = r.clone();
        other.door = "web".into();
        assert_ne!(a, other.sequence(&k, 100).expect("other door"));
        for seq in [&a, &b] {
            let ports: Vec<u16> = seq.hits().iter().map(|h| h.port).collect();
            let mut unique = ports.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), ports.len(), "distinct: {ports:?}");
            assert!(ports.iter().all(|p| (1024..=65535).contains(p) && !r.exclude.contains(p)));
        }
        // A range exactly as large as the sequence uses every port once.
        let mut tight = Rotation::new("t");
        tight.range = (5000, 5003);
        let mut ports: Vec<u16> = tight.sequence(&k, 7).expect("tight").hits().iter().map(|h| h.port).collect();
        ports.sort_unstable();
        assert_eq!(ports, [5000, 5001, 5002, 5003]);
    }

    #[test]
    fn provisioning_uris_round_trip_and_bad_ones_say_why() {
        let mut r = Rotation::new("ssh door");
        r.step = 60;
        r.protocols = vec![Protocol::Tcp, Protocol::Udp, Protocol::Tcp, Protocol::Tcp];
        r.exclude = vec![22];
        for host in ["bastion.example.org", "192.0.2.2", "2001:db8::2"] {
            for verify in [None, std::num::NonZeroU16::new(22)] {
                let uri = format_uri(host, &r, &key(K1), verify);
                let parsed = parse_uri(&uri).expect(&uri);
                assert_eq!((parsed.host.as_str(), &parsed.rotation), (host, &r), "{uri}");
                assert_eq!(parsed.key, key(K1));
                assert_eq!(parsed.verify_port, verify, "{uri}");
            }
        }
        assert_eq!(
            format_uri("h.example", &Rotation::new("ssh"), &key(K1), None),
            format!("knock+rotating://h.example/ssh?key={K1}")
        );
        assert_eq!(
            format_uri("h.example", &Rotation::new("ssh"), &key(K1), std::num::NonZeroU16::new(2222)),
            format!("knock+rotating://h.example/ssh?key={K1}&verify=2222")
        );
        for (bad, why) in [
            ("https://h/ssh?key=x", "knock+rotating://"),
            ("knock+rotating://h/ssh", "no ?key"),
            ("knock+rotating://h?key=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "no /DOOR"),
            ("knock+rotating://h/ssh?step=30", "no key="),
            ("knock+rotating://h/ssh?key=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&color=red", "unknown parameter"),
            ("knock+rotating://h/ssh?key=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&verify=0", "verify is not a TCP port"),
        ] {
            let e = parse_uri(bad).expect_err(bad).to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert_eq!(
            parse_uri("knock+rotating://h/ssh?key=JBSWY3DP").expect_err("short").to_string(),
            RotatingError::KeyTooShort { bits: 40 }.to_string()
        );
    }

    #[test]
    fn keys_never_print() {
        let k = key(K1);
        assert_eq!(format!("{k}"), "***");
        assert!(!format!("{k:?}").contains("JBSW"));
        assert_eq!(k.to_base32(), K1);
        assert_eq!(key("jbsw y3dp ehpk 3pxp jbsw y3dp ehpk 3pxp").to_base32(), K1, "case and spaces ignored");
        assert_eq!(Rotation::new("x").seconds_left(61), 29);
    }
}
