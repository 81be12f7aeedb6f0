//! How the SPA door decides about one UDP payload that reached the SPA port: pure (the payload, its
//! addresses, the time and the replay cache's answer in; a [`Verdict`] out), as fwknopd's
//! `server/incoming_spa.c` decides, with the security-critical order explicit:
//!
//! 1. **Cheap checks**, before any cryptography: printable base64 text of 140..1500 bytes without the
//!    `U2FsdGVkX1` prefix (fwknopd's `preprocess_spa_data`), of a length fwknop sends for some stanza's HMAC
//!    type (`spa::possible_wire_length`: its salt and whole AES blocks; checked before the characters are
//!    scanned, so a flood of random lengths costs a comparison); else [`Verdict::NotSpa`].
//! 2. **A stanza for the source**: some stanza's `SOURCE` must match the packet's source (fwknopd's
//!    "No access data found for source IP").
//! 3. **Per stanza, in file order** (the first that grants access wins, as in fwknopd): `SOURCE` and
//!    `DESTINATION`; `ACCESS_EXPIRE`; then the **HMAC, in constant time, before anything is decrypted**
//!    (client-core's codec, `spa::decode_any_digest`); a packet no stanza authenticates costs one HMAC per
//!    matching stanza and nothing else, never a decryption or a digest. (Work per packet is therefore
//!    bounded by the number of stanzas, itself bounded by [`crate::fwknop_access::MAX_STANZAS`].)
//!    A stanza without an HMAC key (loaded only with `--fwknop-allow-no-hmac`) is tried as fwknopd tries
//!    it: decrypted (`spa::decode_without_hmac`), the decryption and the digest inside being all that
//!    refuses a forged packet; each such stanza costs every packet from its SOURCE a decryption.
//! 4. **Replay**: the payload's digest (`spa::replay_digest`, SHA-256 of the payload as fwknopd keys its
//!    cache) must not be in the cache; a packet that decrypted is recorded even when a later check refuses
//!    it, as fwknopd does ([`Verdict`] carries the digest to record). fwknopd looks the digest up before
//!    decrypting; here it is looked up after the HMAC, so a forged packet costs no SHA-256 pass.
//! 5. Then fwknopd's order: timestamp age (`MAX_SPA_PACKET_AGE`, both directions, unless aging is off), the
//!    allow address (`0.0.0.0` means the packet's source and is refused by `REQUIRE_SOURCE_ADDRESS`; any
//!    other address is used as sent, as fwknopd does), `REQUIRE_USERNAME`, the message type (NAT and command
//!    messages are refused), the ports (`RESTRICT_PORTS`: none may match; `OPEN_PORTS`: all must match;
//!    fwknopd skips this check for `CMD_CYCLE_*` stanzas, knock-server does not).
//! 6. The timeout: the client's (message types with a timeout) if above 0, else `FW_ACCESS_TIMEOUT`; at most
//!    `MAX_FW_TIMEOUT`.
//!
//! What a refusal says never includes a key or the decrypted message beyond what fwknopd logs (the
//! username when it does not match, the time difference).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use client_core::Protocol;
use client_core::spa::{self, MessageType, SpaError};

use crate::fwknop_access::{self, Stanza, list_matches};

/// fwknopd's `MIN_SPA_DATA_SIZE`.
const MIN_PAYLOAD: usize = 140;
/// fwknopd's `MAX_SPA_PACKET_LEN`.
const MAX_PAYLOAD: usize = 1500;
/// The base64 of `Salted__`, which fwknopd refuses at the start of a payload.
const SALTED_PREFIX_B64: &[u8] = b"U2FsdGVkX1";
/// fwknopd's `DEF_MAX_SPA_PACKET_AGE`.
pub(crate) const DEFAULT_MAX_AGE: u64 = 120;

/// The fwknopd.conf settings the decision reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AgeRule {
    /// `MAX_SPA_PACKET_AGE` in seconds; None when `ENABLE_SPA_PACKET_AGING` is `N`.
    pub(crate) max_age: Option<u64>,
}

impl Default for AgeRule {
    fn default() -> AgeRule {
        AgeRule { max_age: Some(DEFAULT_MAX_AGE) }
    }
}

/// What the door grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Grant {
    /// Index into the stanzas.
    pub(crate) stanza: usize,
    /// The address to let in: the message's allow address, or the packet's source for `0.0.0.0`.
    pub(crate) allow: IpAddr,
    pub(crate) ports: Vec<(Protocol, u16)>,
    /// Seconds.
    pub(crate) timeout: u32,
    /// The packet's own timestamp (unix seconds), for the replay cache's expiry.
    pub(crate) timestamp: u64,
}

/// Why a packet was refused (logged per packet, rate-limited).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No stanza's SOURCE matches the packet's source.
    NoStanzaForSource,
    /// A stanza's SOURCE matches, but its DESTINATION does not.
    Destination,
    /// The stanzas that could take it have expired (`ACCESS_EXPIRE`).
    Expired {
        stanza: usize,
    },
    /// No stanza's key and HMAC key authenticate and decrypt it (a wrong key, HMAC key or HMAC type).
    NotAuthenticated {
        tried: usize,
        /// Of those, stanzas without an HMAC key (a failed decryption, not a bad HMAC).
        without_hmac: usize,
    },
    Replay,
    /// The timestamp is too far from the server's clock.
    Stale {
        stanza: usize,
        difference: u64,
    },
    /// Decrypted, but not a message the server reads.
    BadMessage {
        stanza: usize,
        why: String,
    },
    /// `0.0.0.0` as the allow address where the stanza requires a source address.
    SourceAddressRequired {
        stanza: usize,
    },
    Username {
        stanza: usize,
        user: String,
    },
    Nat {
        stanza: usize,
    },
    Command {
        stanza: usize,
    },
    Ports {
        stanza: usize,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NoStanzaForSource => write!(f, "no access.conf stanza for this source"),
            Refusal::Destination => write!(f, "filtered by the stanzas' DESTINATION"),
            Refusal::Expired { stanza } => write!(f, "stanza #{stanza} has expired (ACCESS_EXPIRE)"),
            Refusal::NotAuthenticated { tried, without_hmac: 0 } => write!(
                f,
                "bad HMAC: no stanza's keys authenticate it ({tried} tried; wrong key, HMAC key or HMAC digest type)"
            ),
            Refusal::NotAuthenticated { tried, without_hmac } => write!(
                f,
                "bad HMAC or decryption failed: no stanza's keys authenticate it ({tried} tried, {without_hmac} of \
                 them without an HMAC key; wrong key, HMAC key or HMAC digest type)"
            ),
            Refusal::Replay => write!(f, "replay: this packet was already seen"),
            Refusal::Stale { stanza, difference } => {
                write!(f, "(stanza #{stanza}) SPA data time difference is too great ({difference} seconds)")
            }
            Refusal::BadMessage { stanza, why } => write!(f, "(stanza #{stanza}) unreadable message: {why}"),
            Refusal::SourceAddressRequired { stanza } => {
                write!(f, "(stanza #{stanza}) got 0.0.0.0 when a valid source IP was required (REQUIRE_SOURCE_ADDRESS)")
            }
            Refusal::Username { stanza, user } => {
                write!(f, "(stanza #{stanza}) username {user:?} does not match REQUIRE_USERNAME")
            }
            Refusal::Nat { stanza } => write!(f, "(stanza #{stanza}) NAT access requested: not supported"),
            Refusal::Command { stanza } => write!(f, "(stanza #{stanza}) SPA command messages are not allowed"),
            Refusal::Ports { stanza } => {
                write!(f, "(stanza #{stanza}) one or more requested protocol/ports was denied per access.conf")
            }
        }
    }
}

/// The decision about one payload. `digest` (when set) must be recorded in the replay cache: the packet
/// decrypted with some stanza's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Not SPA data (fwknopd's pre-checks): no cryptography was done.
    NotSpa(&'static str),
    Refused {
        reason: Refusal,
        digest: Option<String>,
    },
    Open {
        grant: Grant,
        digest: String,
    },
}

/// The cheap checks of step 1; the payload as text when it passes. After fwknopd's size and prefix
/// checks, the length must be one fwknop sends for some stanza's HMAC type (a flood of random lengths
/// mostly stops here, before even the character scan).
fn precheck<'a>(payload: &'a [u8], stanzas: &[Stanza]) -> Result<&'a str, &'static str> {
    if payload.len() < MIN_PAYLOAD {
        return Err("shorter than 140 bytes");
    }
    if payload.len() > MAX_PAYLOAD {
        return Err("longer than 1500 bytes");
    }
    if payload.starts_with(SALTED_PREFIX_B64) {
        return Err("starts with the Salted__ prefix");
    }
    let hmac = |s: &Stanza| s.hmac_key.as_ref().map(|_| s.hmac_type);
    // (Without any stanza, the answer is that none is for the source.)
    if !stanzas.is_empty() && !stanzas.iter().any(|s| spa::possible_wire_length(payload.len(), hmac(s))) {
        return Err("not a length fwknop sends for the stanzas' HMAC types");
    }
    if !payload.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')) {
        return Err("not base64 text");
    }
    std::str::from_utf8(payload).map_err(|_| "not base64 text")
}

/// Decides about `payload` from `src` to `dst` at `now` (unix seconds). `is_replay` answers whether a
/// digest is in the replay cache.
pub(crate) fn decide(
    stanzas: &[Stanza],
    age: AgeRule,
    src: IpAddr,
    dst: IpAddr,
    payload: &[u8],
    now: u64,
    is_replay: impl Fn(&str) -> bool,
) -> Verdict {
    let wire = match precheck(payload, stanzas) {
        Ok(wire) => wire,
        Err(why) => return Verdict::NotSpa(why),
    };
    if !stanzas.iter().any(|s| list_matches(&s.source, src)) {
        return Verdict::Refused { reason: Refusal::NoStanzaForSource, digest: None };
    }
    let mut digest: Option<String> = None;
    let mut reason: Option<Refusal> = None;
    let (mut tried, mut without_hmac) = (0, 0);
    for (index, stanza) in stanzas.iter().enumerate() {
        let number = stanza.number;
        if !list_matches(&stanza.source, src)
            || stanza.destination.as_ref().is_some_and(|list| !list_matches(list, dst))
        {
            continue;
        }
        if stanza.access_expire.is_some_and(|expire| now > expire) {
            reason.get_or_insert(Refusal::Expired { stanza: number });
            continue;
        }
        tried += 1;
        // The HMAC first (constant time), then decryption: the codec's order. Without an HMAC key
        // (an explicit opt-in), decryption alone, as fwknopd does.
        let decoded = match &stanza.hmac_key {
            Some(hmac_key) => spa::decode_any_digest(wire, &stanza.key, hmac_key, stanza.hmac_type),
            None => {
                without_hmac += 1;
                spa::decode_without_hmac(wire, &stanza.key)
            }
        };
        let message = match decoded {
            Ok(message) => message,
            Err(
                SpaError::HmacMismatch
                | SpaError::DecryptionFailed
                | SpaError::Ciphertext { .. }
                | SpaError::WireLength { .. }
                | SpaError::CiphertextLength { .. }
                | SpaError::WireChar { .. }
                | SpaError::WirePrefix,
            ) => continue,
            // Authenticated and decrypted, but the fields are not fwknop's: the digest is recorded.
            Err(err) => {
                let seen = digest.get_or_insert_with(|| spa::replay_digest(wire));
                if is_replay(seen) {
                    return Verdict::Refused { reason: Refusal::Replay, digest: None };
                }
                reason = Some(Refusal::BadMessage { stanza: number, why: err.to_string() });
                continue;
            }
        };
        let seen = digest.get_or_insert_with(|| spa::replay_digest(wire));
        if is_replay(seen) {
            return Verdict::Refused { reason: Refusal::Replay, digest: None };
        }
        match check_message(stanza, index, age, src, now, &message) {
            Ok(grant) => return Verdict::Open { grant, digest: seen.clone() },
            Err(refusal) => reason = Some(refusal),
        }
    }
    let reason = match reason {
        Some(reason) => reason,
        None if tried == 0 => Refusal::Destination,
        None => Refusal::NotAuthenticated { tried, without_hmac },
    };
    Verdict::Refused { reason, digest }
}

/// Step 5 and 6 for one stanza and an authenticated message.
fn check_message(
    stanza: &Stanza,
    index: usize,
    age: AgeRule,
    src: IpAddr,
    now: u64,
    message: &spa::SpaMessage,
) -> Result<Grant, Refusal> {
    let number = stanza.number;
    if let Some(max_age) = age.max_age {
        let difference = now.abs_diff(message.timestamp);
        if difference > max_age {
            return Err(Refusal::Stale { stanza: number, difference });
        }
    }
    let bad = |why: &str| Refusal::BadMessage { stanza: number, why: why.to_owned() };
    let (allow_text, rest) = message.message.split_once(',').ok_or_else(|| bad("no comma after the allow IP"))?;
    // fwknopd reads an IPv4 address of 7 to 15 characters here.
    let allow_v4: Ipv4Addr = allow_text.parse().map_err(|_| bad("the allow IP is not an IPv4 address"))?;
    let allow = if allow_v4.is_unspecified() {
        if stanza.require_source_address {
            return Err(Refusal::SourceAddressRequired { stanza: number });
        }
        src
    } else {
        IpAddr::V4(allow_v4)
    };
    if let Some(required) = &stanza.require_username
        && &message.user != required
    {
        return Err(Refusal::Username { stanza: number, user: message.user.clone() });
    }
    if message.message_type.has_nat() {
        return Err(Refusal::Nat { stanza: number });
    }
    if message.message_type == MessageType::Command {
        return Err(Refusal::Command { stanza: number });
    }
    let ports = fwknop_access::parse_port_list(rest).map_err(|_| Refusal::Ports { stanza: number })?;
    if !ports_allowed(stanza, &ports) {
        return Err(Refusal::Ports { stanza: number });
    }
    let requested = message.client_timeout.filter(|t| *t > 0).unwrap_or(stanza.fw_access_timeout);
    Ok(Grant {
        stanza: index,
        allow,
        ports,
        timeout: requested.min(stanza.max_fw_timeout),
        timestamp: message.timestamp,
    })
}

/// fwknopd's `acc_check_port_access`: no requested entry may be in `RESTRICT_PORTS`, and every one must
/// be in `OPEN_PORTS` when it is set.
fn ports_allowed(stanza: &Stanza, requested: &[(Protocol, u16)]) -> bool {
    if let Some(restricted) = &stanza.restrict_ports
        && requested.iter().any(|entry| restricted.contains(entry))
    {
        return false;
    }
    match &stanza.open_ports {
        Some(open) => requested.iter().all(|entry| open.contains(entry)),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fwknop_access::NoHmac;
    use client_core::spa::{AccessRequest, DigestType, HmacKey, HmacType, SpaKey};
    use std::os::unix::fs::PermissionsExt;

    const KEY: &str = "wDMbC+I1w0nHkp2nCOAUkQp8nL1AYqClUvTM+XYcfA0=";
    const HMAC: &str = "C2GZ4O5TUYhbrxFAT1u+sNjxfHBRwHJI6Yc8X1Rvnn6rKZ6B3AyrbVmYs8rJhpmPfKyJkDGY/d3cpRmWYJv4Iw==";
    const NOW: u64 = 1_900_000_000;
    const CLIENT: &str = "198.51.100.7";
    const SERVER: &str = "192.0.2.1";

    fn stanzas(text: &str) -> Vec<Stanza> {
        stanzas_with(text, NoHmac::Refuse)
    }

    fn stanzas_with(text: &str, no_hmac: NoHmac) -> Vec<Stanza> {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("access.conf");
        std::fs::write(&path, text).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        crate::fwknop_access::load(&path, no_hmac).expect("access.conf").stanzas
    }

    fn stanza(extra: &str) -> String {
        format!("SOURCE ANY\nKEY_BASE64 {KEY}\nHMAC_KEY_BASE64 {HMAC}\n{extra}")
    }

    struct Packet {
        allow: &'static str,
        access: &'static str,
        user: &'static str,
        timestamp: u64,
        client_timeout: Option<u32>,
        hmac: HmacType,
        key: &'static str,
    }

    impl Default for Packet {
        fn default() -> Packet {
            Packet {
                allow: CLIENT,
                access: "tcp/22",
                user: "alice",
                timestamp: NOW,
                client_timeout: None,
                hmac: HmacType::Sha256,
                key: KEY,
            }
        }
    }

    fn seal(p: &Packet) -> String {
        let request = AccessRequest {
            user: p.user.into(),
            allow_ip: p.allow.parse().expect("ip"),
            access: p.access.parse().expect("access"),
            nat: None,
            client_timeout: p.client_timeout,
            digest: DigestType::Sha256,
            hmac: p.hmac,
            time_offset: 0,
        };
        let key = SpaKey::from_base64(p.key).expect("key");
        let hmac = HmacKey::from_base64(HMAC).expect("hmac");
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(p.timestamp);
        spa::build(&request, &key, &hmac, at).expect("build")
    }

    fn decide_at(stanzas: &[Stanza], wire: &str, src: &str, now: u64, seen: &[String]) -> Verdict {
        decide(
            stanzas,
            AgeRule::default(),
            src.parse().expect("address"),
            SERVER.parse().expect("address"),
            wire.as_bytes(),
            now,
            |d| seen.iter().any(|s| s == d),
        )
    }

    fn refusal(verdict: &Verdict) -> Refusal {
        match verdict {
            Verdict::Refused { reason, .. } => reason.clone(),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_packet_opens_with_the_stanza_timeout_and_its_replay_is_refused() {
        let s = stanzas(&stanza("OPEN_PORTS tcp/22\nFW_ACCESS_TIMEOUT 45\n"));
        let wire = seal(&Packet::default());
        let Verdict::Open { grant, digest } = decide_at(&s, &wire, CLIENT, NOW + 5, &[]) else { panic!("opens") };
        assert_eq!(
            grant,
            Grant {
                stanza: 0,
                allow: CLIENT.parse().expect("address"),
                ports: vec![(Protocol::Tcp, 22)],
                timeout: 45,
                timestamp: NOW
            }
        );
        assert_eq!(digest, spa::replay_digest(&wire));
        assert_eq!(refusal(&decide_at(&s, &wire, CLIENT, NOW + 6, &[digest])), Refusal::Replay);
    }

    /// fwknop's packet without an HMAC: the HMAC packet without its MAC (encrypt-then-MAC appends it).
    fn without_hmac(wire: &str) -> String {
        wire[..wire.len() - HmacType::Sha256.b64_len()].to_owned()
    }

    #[test]
    fn a_stanza_without_hmac_key_opens_by_decryption_alone_only_when_allowed() {
        let text = format!("SOURCE ANY\nKEY_BASE64 {KEY}\nOPEN_PORTS tcp/22\n");
        assert!(stanzas(&text).is_empty(), "refused by default");
        let s = stanzas_with(&text, NoHmac::Allow);
        let wire = without_hmac(&seal(&Packet::default()));
        let Verdict::Open { grant, digest } = decide_at(&s, &wire, CLIENT, NOW, &[]) else { panic!("opens") };
        assert_eq!(grant.ports, vec![(Protocol::Tcp, 22)]);
        assert_eq!(refusal(&decide_at(&s, &wire, CLIENT, NOW, &[digest])), Refusal::Replay);
        // A wrong key fails decryption; the refusal says a stanza without HMAC was tried.
        let wrong_key = Packet { key: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", ..Packet::default() };
        let verdict = decide_at(&s, &without_hmac(&seal(&wrong_key)), CLIENT, NOW, &[]);
        assert_eq!(
            verdict,
            Verdict::Refused { reason: Refusal::NotAuthenticated { tried: 1, without_hmac: 1 }, digest: None }
        );
        assert!(refusal(&verdict).to_string().contains("decryption failed"), "{}", refusal(&verdict));
        // The other checks still apply (stale, ports).
        assert!(matches!(refusal(&decide_at(&s, &wire, CLIENT, NOW + 121, &[])), Refusal::Stale { .. }));
        let port = Packet { access: "tcp/80", ..Packet::default() };
        assert_eq!(
            refusal(&decide_at(&s, &without_hmac(&seal(&port)), CLIENT, NOW, &[])),
            Refusal::Ports { stanza: 1 }
        );
        // An HMAC stanza before it still needs its HMAC: the no-HMAC packet opens by the second stanza only.
        let both = stanzas_with(&format!("{}{text}", stanza("OPEN_PORTS tcp/22\n")), NoHmac::Allow);
        let Verdict::Open { grant, .. } = decide_at(&both, &wire, CLIENT, NOW, &[]) else { panic!("opens") };
        assert_eq!(grant.stanza, 1);
        let Verdict::Open { grant, .. } = decide_at(&both, &seal(&Packet::default()), CLIENT, NOW, &[]) else {
            panic!("opens")
        };
        assert_eq!(grant.stanza, 0);
    }

    #[test]
    fn every_refusal_fwknopd_makes_is_made() {
        let open = stanzas(&stanza("OPEN_PORTS tcp/22\nREQUIRE_SOURCE_ADDRESS Y\nREQUIRE_USERNAME alice\n"));
        let ok = Packet::default();
        // Stale, both directions (120 s by default).
        let stale = decide_at(&open, &seal(&ok), CLIENT, NOW + 121, &[]);
        assert_eq!(refusal(&stale), Refusal::Stale { stanza: 1, difference: 121 });
        assert!(matches!(stale, Verdict::Refused { digest: Some(_), .. }), "a decrypted packet is recorded");
        let future = decide_at(&open, &seal(&ok), CLIENT, NOW - 121, &[]);
        assert_eq!(refusal(&future), Refusal::Stale { stanza: 1, difference: 121 });
        assert!(matches!(decide_at(&open, &seal(&ok), CLIENT, NOW - 120, &[]), Verdict::Open { .. }));
        // Wrong key, wrong HMAC type.
        let wrong_key = Packet { key: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", ..Packet::default() };
        let verdict = decide_at(&open, &seal(&wrong_key), CLIENT, NOW, &[]);
        assert_eq!(
            verdict,
            Verdict::Refused { reason: Refusal::NotAuthenticated { tried: 1, without_hmac: 0 }, digest: None }
        );
        let wrong_hmac = Packet { hmac: HmacType::Sha512, ..Packet::default() };
        let verdict = decide_at(&open, &seal(&wrong_hmac), CLIENT, NOW, &[]);
        assert_eq!(
            verdict,
            Verdict::Refused { reason: Refusal::NotAuthenticated { tried: 1, without_hmac: 0 }, digest: None }
        );
        // 0.0.0.0 with REQUIRE_SOURCE_ADDRESS; a wrong user; a port not in OPEN_PORTS.
        let zero = Packet { allow: "0.0.0.0", ..Packet::default() };
        assert_eq!(
            refusal(&decide_at(&open, &seal(&zero), CLIENT, NOW, &[])),
            Refusal::SourceAddressRequired { stanza: 1 }
        );
        let bob = Packet { user: "bob", ..Packet::default() };
        assert_eq!(
            refusal(&decide_at(&open, &seal(&bob), CLIENT, NOW, &[])),
            Refusal::Username { stanza: 1, user: "bob".into() }
        );
        let port = Packet { access: "tcp/22,tcp/80", ..Packet::default() };
        assert_eq!(refusal(&decide_at(&open, &seal(&port), CLIENT, NOW, &[])), Refusal::Ports { stanza: 1 });
        // SOURCE, DESTINATION, ACCESS_EXPIRE.
        let only = stanzas(&format!("SOURCE 10.0.0.0/8\nKEY_BASE64 {KEY}\nHMAC_KEY_BASE64 {HMAC}\n"));
        assert_eq!(refusal(&decide_at(&only, &seal(&ok), CLIENT, NOW, &[])), Refusal::NoStanzaForSource);
        let dest = stanzas(&stanza("DESTINATION 10.0.0.1\n"));
        assert_eq!(refusal(&decide_at(&dest, &seal(&ok), CLIENT, NOW, &[])), Refusal::Destination);
        let expired = stanzas(&stanza(&format!("ACCESS_EXPIRE_EPOCH {}\n", NOW - 1)));
        assert_eq!(refusal(&decide_at(&expired, &seal(&ok), CLIENT, NOW, &[])), Refusal::Expired { stanza: 1 });
    }

    #[test]
    fn stanzas_are_tried_in_order_and_the_first_that_grants_wins() {
        let s = stanzas(&format!(
            "{}{}{}",
            stanza("OPEN_PORTS tcp/80\n"),
            "SOURCE ANY\nKEY other-key\nHMAC_KEY other-hmac\n",
            stanza("OPEN_PORTS tcp/22\nFW_ACCESS_TIMEOUT 10\nMAX_FW_TIMEOUT 20\n"),
        ));
        let p = Packet { client_timeout: Some(3600), allow: "0.0.0.0", ..Packet::default() };
        let Verdict::Open { grant, .. } = decide_at(&s, &seal(&p), "2001:db8::7", NOW, &[]) else { panic!("opens") };
        assert_eq!(grant.stanza, 2);
        assert_eq!(grant.timeout, 20, "the client's timeout, up to MAX_FW_TIMEOUT");
        assert_eq!(grant.allow, "2001:db8::7".parse::<IpAddr>().expect("address"), "0.0.0.0: the packet's source");
    }

    #[test]
    fn a_length_fwknop_never_sends_is_not_spa_before_any_scan_or_hmac() {
        let s = stanzas(&stanza(""));
        let wire = seal(&Packet::default());
        for extra in 1..21 {
            let mut longer = wire.clone();
            longer.push_str(&"A".repeat(extra));
            let verdict = decide_at(&s, &longer, CLIENT, NOW, &[]);
            assert_eq!(verdict, Verdict::NotSpa("not a length fwknop sends for the stanzas' HMAC types"), "+{extra}");
            // Not even base64: the length says it first (no character scan).
            let mut junk = longer.into_bytes();
            junk[0] = 0;
            let verdict = decide(
                &s,
                AgeRule::default(),
                CLIENT.parse().expect("address"),
                SERVER.parse().expect("address"),
                &junk,
                NOW,
                |_| false,
            );
            assert!(matches!(verdict, Verdict::NotSpa(why) if why.starts_with("not a length")), "{verdict:?}");
        }
        // The length fwknop sends for another stanza's HMAC type passes the check (then the HMAC decides).
        let both = stanzas(&format!("{}{}", stanza(""), stanza("HMAC_DIGEST_TYPE sha512\n")));
        let sha512 = seal(&Packet { hmac: HmacType::Sha512, ..Packet::default() });
        assert!(!matches!(decide_at(&s, &sha512, CLIENT, NOW, &[]), Verdict::Open { .. }));
        assert!(matches!(decide_at(&both, &sha512, CLIENT, NOW, &[]), Verdict::Open { .. }));
    }

    #[test]
    fn aging_off_accepts_any_timestamp() {
        let s = stanzas(&stanza(""));
        let wire = seal(&Packet::default());
        let verdict = decide(
            &s,
            AgeRule { max_age: None },
            CLIENT.parse().expect("address"),
            SERVER.parse().expect("address"),
            wire.as_bytes(),
            NOW + 100_000,
            |_| false,
        );
        assert!(matches!(verdict, Verdict::Open { .. }), "{verdict:?}");
    }

    #[test]
    fn random_payloads_never_panic_and_cost_no_decryption() {
        let s = stanzas(&stanza(""));
        let mut rng = knock_e2e::rng::Rng::new(62201);
        const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
        for round in 0..2000 {
            let len = rng.below(1600);
            let payload: Vec<u8> =
                (0..len).map(|_| if round % 2 == 0 { B64[rng.below(B64.len())] } else { rng.next_byte() }).collect();
            let verdict = decide(
                &s,
                AgeRule::default(),
                CLIENT.parse().expect("address"),
                SERVER.parse().expect("address"),
                &payload,
                NOW,
                |_| panic!("a forged packet never reaches the replay cache"),
            );
            assert!(
                matches!(
                    verdict,
                    Verdict::NotSpa(_) | Verdict::Refused { reason: Refusal::NotAuthenticated { .. }, digest: None }
                ),
                "{verdict:?}"
            );
        }
    }
}
