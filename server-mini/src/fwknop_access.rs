//! fwknopd's `access.conf`, read as fwknopd 2.6.10 reads it (`server/access.c`), for the SPA door.
//!
//! The syntax, as fwknopd has it:
//! - A line whose first character is `#`, `;`, CR or LF is skipped; any other line is `VAR VALUE`: the
//!   variable is the first word (a trailing `:` is dropped, names are case-sensitive), the value is the rest
//!   of the line after the blanks that follow it, up to a `;` or the end of the line. A line without a value
//!   is an error for the whole file, as in fwknopd.
//! - `SOURCE` starts a stanza; lines before the first `SOURCE` are ignored. Stanzas are tried in file order.
//! - `%include FILE` (at most 3 levels deep), `%include_folder DIR` (its `*.conf` files, here in name order;
//!   fwknopd takes the directory's order) and `%include_keys FILE` (only key lines, into the current stanza).
//! - Unknown variables are ignored with a warning, as fwknopd does.
//!
//! Values: `SOURCE`/`DESTINATION` are `ANY` or comma-separated addresses with an optional `/CIDR` or
//! `/dotted.mask` (IPv6 prefixes too, an extension: fwknopd 2.6.10 reads IPv4 only); `OPEN_PORTS` and
//! `RESTRICT_PORTS` are `proto/port` lists; `KEY` and `HMAC_KEY` are the literal bytes of the value (with any
//! trailing blanks, exactly as fwknopd takes them), `KEY_BASE64`/`HMAC_KEY_BASE64` their base64 form;
//! booleans are true when they start with `Y` or `y`; `FW_ACCESS_TIMEOUT` (default 30) and `MAX_FW_TIMEOUT`
//! (default 300) are 0..=8388608 seconds; `ACCESS_EXPIRE` is `MM/DD/YYYY` (read here as UTC midnight;
//! fwknopd uses the local time zone) and `ACCESS_EXPIRE_EPOCH` unix seconds.
//!
//! Two kinds of problem:
//! - **Errors** ([`AccessError`]): what makes fwknopd itself refuse to start (bad syntax, a bad address or
//!   port, `__CHANGEME__` keys, a stanza without a key, the same encryption and HMAC key, `CMD_CYCLE_OPEN`
//!   without `CMD_CYCLE_CLOSE`, ...). The whole file is refused, naming `file:line` and what is valid.
//! - **Refused stanzas** ([`Refusal`]): what fwknopd accepts but knock-server will not do: GnuPG stanzas,
//!   `ENABLE_CMD_EXEC`, NAT (`FORCE_NAT`, `FORCE_SNAT`, `FORCE_MASQUERADE`, `FORWARD_ALL`, `DISABLE_DNAT`),
//!   encryption modes other than CBC, and stanzas without an HMAC key (a packet without an HMAC would be
//!   decrypted before it is authenticated). That stanza is dropped, with `file:line: reason`; the others load.
//!   Stanzas without an HMAC key load only on an explicit opt-in ([`NoHmac::Allow`],
//!   `--fwknop-allow-no-hmac`), each with a warning naming `file:line` and why it is weak.
//!
//! Keys are [`SpaKey`] / [`HmacKey`]: wiped from memory on drop and printed masked. The text of key lines is
//! held in wiped buffers too and is never quoted in an error.
//!
//! The file's permissions are checked as fwknopd checks them ([`check_permissions`]): not a regular file is
//! an error; a mode other than 0600 or another owner is a warning, except that a file any user may read or
//! write, or that its group may write, is refused (stricter than fwknopd: the keys are in it).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use client_core::Protocol;
use client_core::spa::{HmacKey, HmacType, SpaKey};
use zeroize::Zeroizing;

/// `DEF_FW_ACCESS_TIMEOUT`.
pub(crate) const DEFAULT_FW_ACCESS_TIMEOUT: u32 = 30;
/// `DEF_MAX_FW_TIMEOUT`.
pub(crate) const DEFAULT_MAX_FW_TIMEOUT: u32 = 300;
/// `RCHK_MAX_FW_TIMEOUT` and `RCHK_MAX_CMD_CYCLE_TIMER` (`2 << 22` seconds).
const MAX_TIMEOUT_VALUE: u32 = 2 << 22;
/// fwknopd's `MAX_DEPTH` for `%include`.
const MAX_INCLUDE_DEPTH: usize = 3;
/// fwknopd's `MAX_LINE_LEN` (a longer line would be split by `fgets`; refused here).
const MAX_LINE_LEN: usize = 1024;
/// fwknopd's `CMD_CYCLE_BUFSIZE`: a longer command is an error.
const MAX_CMD_CYCLE_LEN: usize = 256;
/// Most stanzas read (a bound on the work per SPA packet: each stanza whose SOURCE matches costs an HMAC).
pub(crate) const MAX_STANZAS: usize = 1024;

/// An address list entry of `SOURCE` or `DESTINATION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddrMatch {
    Any,
    V4 { net: u32, mask: u32 },
    V6 { net: u128, prefix: u8 },
}

impl AddrMatch {
    pub(crate) fn matches(self, ip: IpAddr) -> bool {
        match (self, ip) {
            (AddrMatch::Any, _) => true,
            (AddrMatch::V4 { net, mask }, IpAddr::V4(v4)) => u32::from(v4) & mask == net & mask,
            (AddrMatch::V6 { net, prefix }, IpAddr::V6(v6)) => {
                let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix)) };
                u128::from(v6) & mask == net & mask
            }
            // An IPv4-mapped IPv6 source is the IPv4 address it carries.
            (AddrMatch::V4 { .. }, IpAddr::V6(v6)) => {
                v6.to_ipv4_mapped().is_some_and(|v4| self.matches(IpAddr::V4(v4)))
            }
            (AddrMatch::V6 { .. }, IpAddr::V4(_)) => false,
        }
    }
}

/// Whether any entry of `list` matches `ip`.
pub(crate) fn list_matches(list: &[AddrMatch], ip: IpAddr) -> bool {
    list.iter().any(|m| m.matches(ip))
}

/// `CMD_CYCLE_OPEN`, `CMD_CYCLE_CLOSE` (None for `NONE`) and `CMD_CYCLE_TIMER`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CmdCycle {
    pub(crate) open: String,
    pub(crate) close: Option<String>,
    pub(crate) timer: u32,
}

/// One usable stanza.
#[derive(Debug, Clone)]
pub(crate) struct Stanza {
    /// Its number among all stanzas of the file (1-based, as fwknopd's `stanza #N`).
    pub(crate) number: usize,
    pub(crate) file: PathBuf,
    /// The line of its `SOURCE`.
    pub(crate) line: usize,
    /// The `SOURCE` value as written (for logs).
    pub(crate) source_text: String,
    pub(crate) source: Vec<AddrMatch>,
    pub(crate) destination: Option<Vec<AddrMatch>>,
    pub(crate) open_ports: Option<Vec<(Protocol, u16)>>,
    pub(crate) restrict_ports: Option<Vec<(Protocol, u16)>>,
    pub(crate) key: SpaKey,
    /// None only for a stanza without an HMAC key loaded under [`NoHmac::Allow`].
    pub(crate) hmac_key: Option<HmacKey>,
    pub(crate) hmac_type: HmacType,
    pub(crate) fw_access_timeout: u32,
    pub(crate) max_fw_timeout: u32,
    pub(crate) require_username: Option<String>,
    pub(crate) require_source_address: bool,
    /// Unix seconds after which the stanza no longer matches.
    pub(crate) access_expire: Option<u64>,
    pub(crate) cmd_cycle: Option<CmdCycle>,
}

impl Stanza {
    /// `stanza #N (SOURCE ..., FILE:LINE)`, for logs and `--check`.
    pub(crate) fn label(&self) -> String {
        format!("stanza #{} (SOURCE {}, {}:{})", self.number, self.source_text.trim(), self.file.display(), self.line)
    }
}

/// A stanza fwknopd would use but knock-server will not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) number: usize,
    pub(crate) file: PathBuf,
    pub(crate) line: usize,
    pub(crate) reason: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: stanza #{} refused: {}", self.file.display(), self.line, self.number, self.reason)
    }
}

/// An access.conf that fwknopd itself would refuse (or that cannot be read).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {reason}", file.display())]
pub(crate) struct AccessError {
    pub(crate) file: PathBuf,
    /// 0 when the problem is the file itself.
    pub(crate) line: usize,
    pub(crate) reason: String,
}

/// What an access.conf gives: the stanzas knock-server uses, the ones it refuses, and warnings.
#[derive(Debug, Default)]
pub(crate) struct AccessConf {
    pub(crate) stanzas: Vec<Stanza>,
    pub(crate) refused: Vec<Refusal>,
    pub(crate) warnings: Vec<String>,
}

/// What becomes of a stanza without an HMAC key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum NoHmac {
    /// Refused (the default): every packet is authenticated before it is decrypted.
    #[default]
    Refuse,
    /// Loaded, with a warning (`--fwknop-allow-no-hmac`): its packets are decrypted unauthenticated, as
    /// fwknopd does for such a stanza.
    Allow,
}

/// Why a stanza without an HMAC key is weak (its warning).
pub(crate) const NO_HMAC_WEAKNESS: &str = "no HMAC key, loaded because of --fwknop-allow-no-hmac: its packets are \
     decrypted before anything authenticates them (every packet to the SPA port from its SOURCE costs a decryption), \
     an altered copy of a captured packet is a new payload the replay cache has not seen (only a failed decryption or \
     digest stops it), and unauthenticated CBC invites chosen-ciphertext probing; add HMAC_KEY_BASE64 (fwknop \
     --key-gen) and use the client's --use-hmac";

/// Reads `path` (and what it includes) as fwknopd does; `no_hmac` says what becomes of stanzas without
/// an HMAC key.
pub(crate) fn load(path: &Path, no_hmac: NoHmac) -> Result<AccessConf, AccessError> {
    let mut reader = Reader { no_hmac, ..Reader::default() };
    reader.read_file(path, 0)?;
    if reader.total == 0 {
        return Err(AccessError {
            file: path.to_owned(),
            line: 0,
            reason: "no SOURCE stanza: an access.conf needs at least one `SOURCE ANY` (or addresses) line followed \
                     by its keys"
                .into(),
        });
    }
    Ok(reader.conf)
}

/// fwknopd's permission check (`verify_file_perms_ownership`), with world-readable, world-writable and
/// group-writable files refused (they expose or let others change the keys). Warnings are returned.
#[cfg(unix)]
pub(crate) fn check_permissions(path: &Path) -> Result<Vec<String>, AccessError> {
    use std::os::unix::fs::MetadataExt;
    let error = |reason: String| AccessError { file: path.to_owned(), line: 0, reason };
    let meta = std::fs::metadata(path).map_err(|e| error(format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(error("not a regular file".into()));
    }
    let mode = meta.mode() & 0o777;
    let mut warnings = Vec::new();
    if mode & 0o026 != 0 || mode & 0o004 != 0 {
        return Err(error(format!(
            "mode {mode:04o} lets other users read or change the keys: chmod 600 {}",
            path.display()
        )));
    }
    if mode != 0o600 {
        warnings.push(format!(
            "{}: permissions should only be user read/write (0600, -rw-------), as fwknopd warns; it is {mode:04o}",
            path.display()
        ));
    }
    if meta.uid() != rustix::process::geteuid().as_raw() {
        warnings.push(format!("{}: not owned by the current effective user id, as fwknopd warns", path.display()));
    }
    Ok(warnings)
}

/// The stanza being read: raw values as fwknopd keeps them, checked when the stanza ends.
#[derive(Default)]
struct Draft {
    number: usize,
    file: PathBuf,
    line: usize,
    source: String,
    destination: Option<(usize, String)>,
    open_ports: Option<(usize, String)>,
    restrict_ports: Option<(usize, String)>,
    key: Option<SpaKeyBytes>,
    hmac_key: Option<SpaKeyBytes>,
    hmac_type: Option<HmacType>,
    fw_access_timeout: u32,
    max_fw_timeout: u32,
    require_username: Option<String>,
    require_source_address: bool,
    access_expire: Option<u64>,
    cmd_cycle_open: Option<(usize, String)>,
    cmd_cycle_close: Option<(usize, String)>,
    cmd_cycle_timer: u32,
    cmd_exec_user: bool,
    /// The first reason knock-server refuses this stanza (line, reason).
    refusal: Option<(usize, String)>,
}

/// Key bytes with the line they came from.
struct SpaKeyBytes {
    line: usize,
    bytes: Zeroizing<Vec<u8>>,
    /// `KEY` / `HMAC_KEY` (the value's text itself), not decoded from base64.
    literal: bool,
}

impl Draft {
    fn refuse(&mut self, line: usize, reason: impl Into<String>) {
        if self.refusal.is_none() {
            self.refusal = Some((line, reason.into()));
        }
    }
}

#[derive(Default)]
struct Reader {
    conf: AccessConf,
    /// Stanzas seen, refused ones included.
    total: usize,
    no_hmac: NoHmac,
}

/// One `VAR VALUE` line split as fwknopd's `sscanf("%s %[^;\n\r]")` splits it.
fn split_line(line: &str) -> Option<(&str, &str)> {
    let trimmed = line.trim_start_matches([' ', '\t', '\x0b', '\x0c']);
    let var_end = trimmed.find(|c: char| c.is_ascii_whitespace()).unwrap_or(trimmed.len());
    let (var, rest) = trimmed.split_at(var_end);
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let value_end = rest.find([';', '\n', '\r']).unwrap_or(rest.len());
    let value = &rest[..value_end];
    if var.is_empty() || value.is_empty() {
        return None;
    }
    // fwknopd drops the last ':' of the variable (`KEY:` is `KEY`).
    let var = match var.rfind(':') {
        Some(at) => &var[..at],
        None => var,
    };
    Some((var, value))
}

fn is_skipped(line: &str) -> bool {
    matches!(line.as_bytes().first(), None | Some(b'#' | b';' | b'\n' | b'\r'))
}

fn yes(value: &str) -> bool {
    value.as_bytes().first().is_some_and(|b| b.eq_ignore_ascii_case(&b'y'))
}

impl Reader {
    fn read_file(&mut self, path: &Path, depth: usize) -> Result<(), AccessError> {
        let err = |line: usize, reason: String| AccessError { file: path.to_owned(), line, reason };
        if depth >= MAX_INCLUDE_DEPTH {
            return Err(err(0, format!("included more than {MAX_INCLUDE_DEPTH} levels deep (fwknopd's limit)")));
        }
        #[cfg(unix)]
        {
            let warnings = check_permissions(path)?;
            self.conf.warnings.extend(warnings);
        }
        let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| err(0, format!("cannot read: {e}")))?);
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            let line = bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
            err(line, "not UTF-8 text".into())
        })?;
        let mut draft: Option<Draft> = None;
        for (index, raw) in text.split_inclusive('\n').enumerate() {
            let number = index + 1;
            if raw.len() >= MAX_LINE_LEN {
                return Err(err(number, format!("line longer than {} characters", MAX_LINE_LEN - 1)));
            }
            if is_skipped(raw) {
                continue;
            }
            let Some((var, value)) = split_line(raw) else {
                return Err(err(number, "expected `VARIABLE VALUE` (fwknopd refuses a line without a value)".into()));
            };
            match var {
                "%include" => self.read_file(Path::new(value.trim_end()), depth + 1)?,
                "%include_folder" => self.read_folder(Path::new(value.trim_end()), depth + 1, path, number)?,
                "SOURCE" => {
                    if let Some(done) = draft.take() {
                        self.finish(done)?;
                    }
                    self.total += 1;
                    if self.total > MAX_STANZAS {
                        return Err(err(number, format!("more than {MAX_STANZAS} stanzas")));
                    }
                    draft = Some(Draft {
                        number: self.total,
                        file: path.to_owned(),
                        line: number,
                        source: value.to_owned(),
                        fw_access_timeout: 0,
                        max_fw_timeout: 0,
                        ..Draft::default()
                    });
                }
                _ => {
                    // fwknopd: a stanza must start with SOURCE; anything before it is skipped.
                    let Some(current) = draft.as_mut() else { continue };
                    if var == "%include_keys" {
                        self.include_keys(current, Path::new(value.trim_end()), path, number)?;
                    } else {
                        self.set(current, var, value, path, number)?;
                    }
                }
            }
        }
        if let Some(done) = draft.take() {
            self.finish(done)?;
        }
        Ok(())
    }

    fn read_folder(&mut self, dir: &Path, depth: usize, from: &Path, line: usize) -> Result<(), AccessError> {
        let entries = std::fs::read_dir(dir).map_err(|e| AccessError {
            file: from.to_owned(),
            line,
            reason: format!("%include_folder {}: {e}", dir.display()),
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.contains(".conf")))
            .collect();
        files.sort();
        for file in files {
            self.read_file(&file, depth)?;
        }
        Ok(())
    }

    /// `%include_keys FILE`: only the key variables of FILE, into the current stanza.
    fn include_keys(&mut self, draft: &mut Draft, file: &Path, from: &Path, line: usize) -> Result<(), AccessError> {
        let bytes = Zeroizing::new(std::fs::read(file).map_err(|e| AccessError {
            file: from.to_owned(),
            line,
            reason: format!("%include_keys {}: {e}", file.display()),
        })?);
        let err = |line: usize, reason: &str| AccessError { file: file.to_owned(), line, reason: reason.into() };
        let text = std::str::from_utf8(&bytes).map_err(|_| err(0, "not UTF-8 text"))?;
        for (index, raw) in text.split_inclusive('\n').enumerate() {
            if is_skipped(raw) {
                continue;
            }
            let Some((var, value)) = split_line(raw) else {
                return Err(err(index + 1, "expected `VARIABLE VALUE`"));
            };
            match var {
                "KEY" | "KEY_BASE64" | "HMAC_KEY" | "HMAC_KEY_BASE64" => {
                    self.set(draft, var, value, file, index + 1)?
                }
                "GPG_DECRYPT_ID"
                | "GPG_DECRYPT_PW"
                | "GPG_ALLOW_NO_PW"
                | "GPG_REQUIRE_SIG"
                | "GPG_DISABLE_SIG"
                | "GPG_IGNORE_SIG_VERIFY_ERROR"
                | "GPG_REMOTE_ID"
                | "GPG_FINGERPRINT_ID" => draft.refuse(
                    index + 1,
                    "GnuPG stanzas are not supported by knock-server: use KEY_BASE64 and HMAC_KEY_BASE64",
                ),
                _ => {
                    self.conf.warnings.push(format!("{}:{}: ignoring invalid entry {var:?}", file.display(), index + 1))
                }
            }
        }
        Ok(())
    }

    fn set(&mut self, d: &mut Draft, var: &str, value: &str, file: &Path, line: usize) -> Result<(), AccessError> {
        let err = |reason: String| AccessError { file: file.to_owned(), line, reason };
        let timeout = |what: &str| {
            value
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|v| *v <= MAX_TIMEOUT_VALUE)
                .ok_or_else(|| err(format!("{what} value not in range: expected 0 to {MAX_TIMEOUT_VALUE} seconds")))
        };
        match var {
            "DESTINATION" => d.destination = Some((line, value.to_owned())),
            "OPEN_PORTS" => d.open_ports = Some((line, value.to_owned())),
            "RESTRICT_PORTS" => d.restrict_ports = Some((line, value.to_owned())),
            "KEY" | "KEY_BASE64" => d.key = Some(read_key(var, value, line).map_err(err)?),
            "HMAC_KEY" | "HMAC_KEY_BASE64" => d.hmac_key = Some(read_key(var, value, line).map_err(err)?),
            "HMAC_DIGEST_TYPE" => {
                d.hmac_type = Some(value.trim().parse::<HmacType>().map_err(|_| {
                    err(format!(
                        "HMAC_DIGEST_TYPE {:?} must be one of md5, sha1, sha256, sha384, sha512, sha3_256, sha3_512",
                        value.trim()
                    ))
                })?);
            }
            "FW_ACCESS_TIMEOUT" => d.fw_access_timeout = timeout("FW_ACCESS_TIMEOUT")?,
            "MAX_FW_TIMEOUT" => d.max_fw_timeout = timeout("MAX_FW_TIMEOUT")?,
            "ENCRYPTION_MODE" => {
                let mode = value.trim();
                const KNOWN: [&str; 8] = ["CBC", "ECB", "CFB", "PCBC", "OFB", "CTR", "ASYMMETRIC", "LEGACY"];
                if !KNOWN.iter().any(|m| m.eq_ignore_ascii_case(mode)) {
                    return Err(err(format!(
                        "unrecognized ENCRYPTION_MODE {mode:?}: use CBC (or CTR, legacy, Asymmetric)"
                    )));
                }
                if !mode.eq_ignore_ascii_case("CBC") {
                    d.refuse(
                        line,
                        format!(
                            "ENCRYPTION_MODE {mode} is not supported: knock-server reads CBC (fwknop's default) only"
                        ),
                    );
                }
            }
            "ENABLE_CMD_EXEC" | "ENABLE_CMD_SUDO_EXEC" if yes(value) => {
                d.refuse(line, format!("{var} (commands sent inside SPA packets) is not supported by knock-server"))
            }
            "ENABLE_CMD_EXEC" | "ENABLE_CMD_SUDO_EXEC" => {}
            "CMD_EXEC_USER" | "CMD_EXEC_GROUP" | "CMD_SUDO_EXEC_USER" | "CMD_SUDO_EXEC_GROUP" => d.cmd_exec_user = true,
            "CMD_REGEX" => {
                self.conf.warnings.push(format!("{}:{line}: CMD_REGEX ignored (no command messages)", file.display()))
            }
            "CMD_CYCLE_OPEN" => d.cmd_cycle_open = Some((line, value.to_owned())),
            "CMD_CYCLE_CLOSE" => d.cmd_cycle_close = Some((line, value.to_owned())),
            "CMD_CYCLE_TIMER" => {
                d.cmd_cycle_timer = value
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|v| (1..=MAX_TIMEOUT_VALUE).contains(v))
                    .ok_or_else(|| err(format!("CMD_CYCLE_TIMER value not in range [1,{MAX_TIMEOUT_VALUE}]")))?;
            }
            "REQUIRE_USERNAME" => d.require_username = Some(value.to_owned()),
            "REQUIRE_SOURCE_ADDRESS" | "REQUIRE_SOURCE" => d.require_source_address = yes(value),
            "ACCESS_EXPIRE" => {
                d.access_expire = Some(parse_date(value.trim()).ok_or_else(|| {
                    err(format!("invalid date value {:?} (need MM/DD/YYYY) for ACCESS_EXPIRE", value.trim()))
                })?)
            }
            "ACCESS_EXPIRE_EPOCH" => {
                let digits: String = value.trim().chars().take_while(char::is_ascii_digit).collect();
                d.access_expire = Some(digits.parse::<u64>().unwrap_or(0).min(i64::MAX as u64));
                if digits.is_empty() {
                    // strtoul without digits gives 0: no expiry, as fwknopd.
                    d.access_expire = None;
                }
            }
            "FORCE_NAT" | "FORCE_SNAT" => d.refuse(
                line,
                format!("{var} (NAT) is not supported by knock-server: it opens ports on this host only"),
            ),
            "FORCE_MASQUERADE" | "FORWARD_ALL" | "DISABLE_DNAT" if yes(value) => d.refuse(
                line,
                format!("{var} (NAT) is not supported by knock-server: it opens ports on this host only"),
            ),
            "FORCE_MASQUERADE" | "FORWARD_ALL" | "DISABLE_DNAT" => {}
            "GPG_HOME_DIR"
            | "GPG_EXE"
            | "GPG_DECRYPT_ID"
            | "GPG_DECRYPT_PW"
            | "GPG_ALLOW_NO_PW"
            | "GPG_REQUIRE_SIG"
            | "GPG_DISABLE_SIG"
            | "GPG_IGNORE_SIG_VERIFY_ERROR"
            | "GPG_REMOTE_ID"
            | "GPG_FINGERPRINT_ID" => d.refuse(
                line,
                format!("{var}: GnuPG stanzas are not supported by knock-server: use KEY_BASE64 and HMAC_KEY_BASE64"),
            ),
            _ => {
                self.conf.warnings.push(format!("{}:{line}: ignoring unknown access parameter {var:?}", file.display()))
            }
        }
        Ok(())
    }

    /// Checks a finished stanza as fwknopd's `acc_data_is_valid` and `expand_acc_ent_lists` do, then keeps
    /// it, or records why knock-server refuses it.
    fn finish(&mut self, mut d: Draft) -> Result<(), AccessError> {
        let file = d.file.clone();
        let at = |line: usize, reason: String| AccessError { file: file.clone(), line, reason };
        let (key, hmac) = (d.key.take(), d.hmac_key.take());
        let source_text = d.source.clone();
        let source = parse_addr_list(&d.source)
            .map_err(|why| at(d.line, format!("invalid SOURCE {:?}: {why}", d.source.trim())))?;
        let destination = match &d.destination {
            Some((line, text)) if !text.is_empty() => Some(
                parse_addr_list(text)
                    .map_err(|why| at(*line, format!("invalid DESTINATION {:?}: {why}", text.trim())))?,
            ),
            _ => None,
        };
        let ports =
            |entry: &Option<(usize, String)>, what: &str| -> Result<Option<Vec<(Protocol, u16)>>, AccessError> {
                match entry {
                    Some((line, text)) if !text.is_empty() => parse_port_list(text)
                        .map(Some)
                        .map_err(|why| at(*line, format!("invalid {what} {:?}: {why}", text.trim()))),
                    _ => Ok(None),
                }
            };
        let open_ports = ports(&d.open_ports, "OPEN_PORTS")?;
        let restrict_ports = ports(&d.restrict_ports, "RESTRICT_PORTS")?;
        let Some(key) = &key else {
            if d.refusal.is_some() {
                return self.refuse(d);
            }
            return Err(at(
                d.line,
                "no keys found for this stanza: set KEY_BASE64 and HMAC_KEY_BASE64 (fwknop --key-gen)".into(),
            ));
        };
        if let Some(hmac) = &hmac
            && hmac.bytes.as_slice() == key.bytes.as_slice()
        {
            return Err(at(hmac.line, "the encryption key and HMAC key must not be identical".into()));
        }
        let cmd_cycle = match (&d.cmd_cycle_open, &d.cmd_cycle_close) {
            (None, None) => None,
            (Some((line, _)), None) => {
                return Err(at(*line, "CMD_CYCLE_OPEN needs CMD_CYCLE_CLOSE too (NONE for no close command)".into()));
            }
            (None, Some((line, _))) => return Err(at(*line, "CMD_CYCLE_CLOSE needs CMD_CYCLE_OPEN too".into())),
            (Some((open_line, open)), Some((close_line, close))) => {
                let close = if close.starts_with("NONE") { None } else { Some(close.clone()) };
                if close.is_some() && d.cmd_cycle_timer == 0 {
                    return Err(at(*open_line, "CMD_CYCLE_TIMER must be set for CMD_CYCLE_OPEN/CLOSE".into()));
                }
                if open.len() >= MAX_CMD_CYCLE_LEN {
                    return Err(at(
                        *open_line,
                        format!("CMD_CYCLE_OPEN is longer than {} characters", MAX_CMD_CYCLE_LEN - 1),
                    ));
                }
                if close.as_ref().is_some_and(|c| c.len() >= MAX_CMD_CYCLE_LEN) {
                    return Err(at(
                        *close_line,
                        format!("CMD_CYCLE_CLOSE is longer than {} characters", MAX_CMD_CYCLE_LEN - 1),
                    ));
                }
                Some(CmdCycle { open: open.clone(), close, timer: d.cmd_cycle_timer })
            }
        };
        if d.refusal.is_some() {
            return self.refuse(d);
        }
        if cmd_cycle.is_some() && d.cmd_exec_user {
            d.refuse(d.line, "CMD_EXEC_USER/GROUP with CMD_CYCLE_*: knock-server runs commands as itself (use sudo -u in the command)");
            return self.refuse(d);
        }
        if hmac.is_none() && self.no_hmac == NoHmac::Refuse {
            d.refuse(
                d.line,
                "no HMAC key: knock-server authenticates every packet before decrypting it; add HMAC_KEY_BASE64 \
                 (fwknop --key-gen) and use the client's --use-hmac (or, knowing why it is weak, load it with \
                 --fwknop-allow-no-hmac)",
            );
            return self.refuse(d);
        }
        let Ok(spa_key) = SpaKey::new(key.bytes.as_slice()) else {
            let reason =
                format!("the encryption key is {} bytes: fwknop's Rijndael keys are 1 to 32 bytes", key.bytes.len());
            d.refuse(key.line, reason);
            return self.refuse(d);
        };
        let hmac_key = match &hmac {
            Some(hmac) => match HmacKey::new(hmac.bytes.as_slice()) {
                Ok(hmac_key) => Some(hmac_key),
                Err(_) => {
                    let reason =
                        format!("the HMAC key is {} bytes: fwknop's HMAC keys are 1 to 128 bytes", hmac.bytes.len());
                    d.refuse(hmac.line, reason);
                    return self.refuse(d);
                }
            },
            None => {
                self.conf.warnings.push(format!(
                    "{}:{}: stanza #{}: {NO_HMAC_WEAKNESS}",
                    d.file.display(),
                    d.line,
                    d.number
                ));
                None
            }
        };
        for (what, k) in [("KEY", Some(key)), ("HMAC_KEY", hmac.as_ref())] {
            let Some(k) = k else { continue };
            if k.literal && k.bytes.last().is_some_and(u8::is_ascii_whitespace) {
                self.conf.warnings.push(format!(
                    "{}:{}: the {what} value ends with blanks, which are part of the key (as fwknopd reads it)",
                    d.file.display(),
                    k.line
                ));
            }
        }
        let fw_access_timeout = if d.fw_access_timeout < 1 { DEFAULT_FW_ACCESS_TIMEOUT } else { d.fw_access_timeout };
        let max_fw_timeout = if d.max_fw_timeout < 1 { DEFAULT_MAX_FW_TIMEOUT } else { d.max_fw_timeout };
        if max_fw_timeout < fw_access_timeout {
            self.conf.warnings.push(format!(
                "{}:{}: MAX_FW_TIMEOUT < FW_ACCESS_TIMEOUT, honoring MAX_FW_TIMEOUT (as fwknopd does)",
                d.file.display(),
                d.line
            ));
        }
        if !d.require_source_address {
            self.conf.warnings.push(format!(
                "{}:{}: REQUIRE_SOURCE_ADDRESS not enabled: a packet may ask to open for its own source (0.0.0.0)",
                d.file.display(),
                d.line
            ));
        }
        self.conf.stanzas.push(Stanza {
            number: d.number,
            file: d.file.clone(),
            line: d.line,
            source_text,
            source,
            destination,
            open_ports,
            restrict_ports,
            key: spa_key,
            hmac_key,
            hmac_type: d.hmac_type.unwrap_or_default(),
            fw_access_timeout,
            max_fw_timeout,
            require_username: d.require_username.clone(),
            require_source_address: d.require_source_address,
            access_expire: d.access_expire.filter(|t| *t > 0),
            cmd_cycle,
        });
        Ok(())
    }

    fn refuse(&mut self, d: Draft) -> Result<(), AccessError> {
        let (line, reason) = d.refusal.unwrap_or((d.line, "refused".into()));
        self.conf.refused.push(Refusal { number: d.number, file: d.file, line, reason });
        Ok(())
    }
}

/// One key line, `KEY` / `HMAC_KEY` (the value's bytes, as fwknopd takes them) or `KEY_BASE64` /
/// `HMAC_KEY_BASE64` (decoded); the error names the variable, never the value.
fn read_key(var: &str, value: &str, line: usize) -> Result<SpaKeyBytes, String> {
    if value.eq_ignore_ascii_case("__CHANGEME__") {
        return Err(format!("{var} value is not properly set (still __CHANGEME__): run `fwknop --key-gen`"));
    }
    if var.ends_with("_BASE64") {
        let bytes = decode_key(value).map_err(|why| format!("{var}: {why}"))?;
        Ok(SpaKeyBytes { line, bytes, literal: false })
    } else {
        Ok(SpaKeyBytes { line, bytes: Zeroizing::new(value.as_bytes().to_vec()), literal: true })
    }
}

/// fwknopd's base64 check (`is_base64`: letters, digits, `+ / =`) and decoding; the error never quotes
/// the value.
fn decode_key(value: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    let text = value.trim_end();
    if let Some(at) = text.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))) {
        return Err(format!("does not look like base64-encoded data (character {} is not base64)", at + 1));
    }
    // The key types check lengths later; here only the decoding.
    match SpaKey::from_base64(text) {
        Ok(key) => Ok(Zeroizing::new(key.as_bytes().to_vec())),
        Err(_) => match HmacKey::from_base64(text) {
            Ok(key) => Ok(Zeroizing::new(key.as_bytes().to_vec())),
            Err(err) => Err(err.to_string()),
        },
    }
}

/// `SOURCE`/`DESTINATION`: `ANY` or comma-separated addresses, each with an optional `/bits` or `/mask`.
pub(crate) fn parse_addr_list(text: &str) -> Result<Vec<AddrMatch>, String> {
    text.split(',').map(|entry| parse_addr(entry.trim())).collect()
}

fn parse_addr(entry: &str) -> Result<AddrMatch, String> {
    if entry.eq_ignore_ascii_case("ANY") {
        return Ok(AddrMatch::Any);
    }
    if entry.is_empty() {
        return Err("an empty entry: expected ANY, an address, ADDRESS/BITS or ADDRESS/MASK".into());
    }
    let (address, mask) = match entry.split_once('/') {
        Some((address, "")) => return Err(format!("{address}/ is missing its mask value")),
        Some((address, mask)) => (address, Some(mask)),
        None => (entry, None),
    };
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => {
            let mask = match mask {
                None => u32::MAX,
                Some(m) if m.len() > 3 => u32::from(
                    m.parse::<Ipv4Addr>().map_err(|_| format!("{m:?} is not a CIDR length (1-32) or a dotted mask"))?,
                ),
                Some(m) => match m.parse::<u32>() {
                    Ok(32) => u32::MAX,
                    Ok(bits @ 1..=31) => u32::MAX << (32 - bits),
                    _ => return Err(format!("{m:?} is not a CIDR length of 1 to 32")),
                },
            };
            Ok(AddrMatch::V4 { net: u32::from(v4) & mask, mask })
        }
        Ok(IpAddr::V6(v6)) => {
            let prefix = match mask {
                None => 128,
                Some(m) => m
                    .parse::<u8>()
                    .ok()
                    .filter(|p| (1..=128).contains(p))
                    .ok_or_else(|| format!("{m:?} is not an IPv6 prefix length of 1 to 128"))?,
            };
            let net = u128::from(v6);
            let mask = u128::MAX << (128 - u32::from(prefix));
            Ok(AddrMatch::V6 { net: net & mask, prefix })
        }
        Err(_) => Err(format!("{address:?} is not an IP address (host names are not read, as in fwknopd)")),
    }
}

/// `OPEN_PORTS`/`RESTRICT_PORTS` and the ports of an SPA message: `proto/port` entries, comma-separated,
/// protocol `tcp` or `udp` (any case), port 0..=65535.
pub(crate) fn parse_port_list(text: &str) -> Result<Vec<(Protocol, u16)>, String> {
    text.split(',')
        .map(|entry| {
            let entry = entry.trim();
            let (proto, port) =
                entry.split_once('/').ok_or_else(|| format!("{entry:?} is not proto/port (e.g. tcp/22)"))?;
            let protocol = if proto.eq_ignore_ascii_case("tcp") {
                Protocol::Tcp
            } else if proto.eq_ignore_ascii_case("udp") {
                Protocol::Udp
            } else {
                return Err(format!("{entry:?}: protocol must be tcp or udp"));
            };
            let port = port.trim().parse::<u16>().map_err(|_| format!("{entry:?}: port must be 0 to 65535"))?;
            Ok((protocol, port))
        })
        .collect()
}

/// `MM/DD/YYYY` as unix seconds at midnight UTC (two-digit years are 20YY, as fwknopd reads them).
fn parse_date(text: &str) -> Option<u64> {
    let mut parts = text.splitn(3, '/');
    let month: i64 = parts.next()?.trim().parse().ok()?;
    let day: i64 = parts.next()?.trim().parse().ok()?;
    let year_text: String = parts.next()?.trim().chars().take(4).take_while(char::is_ascii_digit).collect();
    let mut year: i64 = year_text.parse().ok()?;
    if year < 100 {
        year += 2000;
    }
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || year < 1970 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const KEY: &str = "wDMbC+I1w0nHkp2nCOAUkQp8nL1AYqClUvTM+XYcfA0=";
    const HMAC: &str = "C2GZ4O5TUYhbrxFAT1u+sNjxfHBRwHJI6Yc8X1Rvnn6rKZ6B3AyrbVmYs8rJhpmPfKyJkDGY/d3cpRmWYJv4Iw==";

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        path
    }

    fn stanza(extra: &str) -> String {
        format!("SOURCE ANY\nKEY_BASE64 {KEY}\nHMAC_KEY_BASE64 {HMAC}\n{extra}")
    }

    #[test]
    fn a_typical_access_conf_is_read_as_fwknopd_reads_it() {
        let dir = tempfile::tempdir().expect("dir");
        let text = format!(
            "# comment\n; also a comment\nIGNORED before any SOURCE\nSOURCE 10.0.0.0/8, 192.168.1.1,2001:db8::/32\n\
             OPEN_PORTS tcp/22, udp/53\nKEY_BASE64: {KEY}\nHMAC_KEY_BASE64 {HMAC}\nHMAC_DIGEST_TYPE SHA512\n\
             FW_ACCESS_TIMEOUT 60\nMAX_FW_TIMEOUT 600\nREQUIRE_USERNAME alice\nREQUIRE_SOURCE_ADDRESS Yes\n\
             ACCESS_EXPIRE_EPOCH 4102444800\nDESTINATION 10.1.0.0/255.255.0.0;comment\n\n\
             SOURCE ANY\nKEY plainpass\nHMAC_KEY otherpass\nRESTRICT_PORTS tcp/25\n\
             CMD_CYCLE_OPEN /bin/true $IP\nCMD_CYCLE_CLOSE NONE\n"
        );
        let conf = load(&write(dir.path(), "access.conf", &text), NoHmac::Refuse).expect("load");
        assert!(conf.refused.is_empty(), "{:?}", conf.refused);
        let [a, b] = conf.stanzas.as_slice() else { panic!("two stanzas") };
        assert_eq!((a.number, a.line, b.number, b.line), (1, 4, 2, 16));
        assert!(list_matches(&a.source, "10.9.8.7".parse().expect("address")));
        assert!(list_matches(&a.source, "192.168.1.1".parse().expect("address")));
        assert!(!list_matches(&a.source, "192.168.1.2".parse().expect("address")));
        assert!(list_matches(&a.source, "2001:db8::5".parse().expect("address")));
        assert!(list_matches(&a.source, "::ffff:10.0.0.1".parse().expect("address")));
        let dest = a.destination.as_ref().expect("destination");
        assert!(
            list_matches(dest, "10.1.2.3".parse().expect("address"))
                && !list_matches(dest, "10.2.0.1".parse().expect("address"))
        );
        assert_eq!(a.open_ports, Some(vec![(Protocol::Tcp, 22), (Protocol::Udp, 53)]));
        assert_eq!(a.hmac_type, HmacType::Sha512);
        assert_eq!((a.fw_access_timeout, a.max_fw_timeout), (60, 600));
        assert_eq!(a.require_username.as_deref(), Some("alice"));
        assert!(a.require_source_address);
        assert_eq!(a.access_expire, Some(4_102_444_800));
        assert_eq!(b.key.as_bytes(), b"plainpass");
        assert_eq!(b.hmac_type, HmacType::Sha256, "sha256 is the default with an HMAC key");
        assert_eq!((b.fw_access_timeout, b.max_fw_timeout), (30, 300), "fwknopd's defaults");
        assert_eq!(b.restrict_ports, Some(vec![(Protocol::Tcp, 25)]));
        assert_eq!(b.cmd_cycle, Some(CmdCycle { open: "/bin/true $IP".into(), close: None, timer: 0 }));
        assert!(conf.warnings.iter().any(|w| w.contains("REQUIRE_SOURCE_ADDRESS not enabled")), "{:?}", conf.warnings);
        // Keys print masked.
        let debug = format!("{:?}", conf.stanzas);
        assert!(!debug.contains("plainpass") && !debug.contains(KEY) && debug.contains("redacted"), "{debug}");
    }

    #[test]
    fn unsupported_stanzas_are_refused_with_file_and_line_and_the_others_load() {
        let dir = tempfile::tempdir().expect("dir");
        let text = format!(
            "{}SOURCE ANY\nGPG_DECRYPT_PW secret\nGPG_REMOTE_ID 1234\n{}ENABLE_CMD_EXEC Y\n{}FORCE_NAT 10.0.0.2 22\n\
             {}FORWARD_ALL Y\nSOURCE ANY\nKEY_BASE64 {KEY}\n{}ENCRYPTION_MODE legacy\n{}FORCE_SNAT 1.2.3.4\n",
            stanza(""),
            stanza(""),
            stanza(""),
            stanza(""),
            stanza(""),
            stanza(""),
        );
        let path = write(dir.path(), "access.conf", &text);
        let conf = load(&path, NoHmac::Refuse).expect("load");
        assert_eq!(conf.stanzas.iter().map(|s| s.number).collect::<Vec<_>>(), vec![1]);
        let reasons: Vec<String> = conf.refused.iter().map(ToString::to_string).collect();
        let expect = [
            (2, 5, "GnuPG"),
            (3, 10, "ENABLE_CMD_EXEC"),
            (4, 14, "FORCE_NAT"),
            (5, 18, "FORWARD_ALL"),
            (6, 19, "no HMAC key"),
            (7, 24, "ENCRYPTION_MODE legacy"),
            (8, 28, "FORCE_SNAT"),
        ];
        assert_eq!(reasons.len(), expect.len(), "{reasons:#?}");
        for ((number, line, what), text) in expect.iter().zip(&reasons) {
            let prefix = format!("{}:{line}: stanza #{number} refused:", path.display());
            assert!(text.starts_with(&prefix) && text.contains(what), "{text} (expected {prefix} ... {what})");
        }
        assert!(!reasons.concat().contains("secret"));
    }

    #[test]
    fn a_stanza_without_hmac_loads_only_when_allowed_and_then_with_a_warning_naming_file_and_line() {
        let dir = tempfile::tempdir().expect("dir");
        let text = format!("{}SOURCE 10.0.0.0/8\nKEY_BASE64 {KEY}\nOPEN_PORTS tcp/22\n", stanza(""));
        let path = write(dir.path(), "access.conf", &text);
        let refused = load(&path, NoHmac::Refuse).expect("load");
        assert_eq!(refused.stanzas.len(), 1);
        assert_eq!(refused.refused.len(), 1);
        assert!(refused.refused[0].to_string().contains(":4: stanza #2 refused: no HMAC key"), "{:?}", refused.refused);
        assert!(refused.refused[0].reason.contains("--fwknop-allow-no-hmac"));

        let allowed = load(&path, NoHmac::Allow).expect("load");
        assert!(allowed.refused.is_empty(), "{:?}", allowed.refused);
        assert_eq!(allowed.stanzas.len(), 2);
        assert!(allowed.stanzas[0].hmac_key.is_some() && allowed.stanzas[1].hmac_key.is_none());
        let warning = allowed.warnings.iter().find(|w| w.contains("no HMAC key")).expect("a warning");
        assert!(warning.starts_with(&format!("{}:4: stanza #2: no HMAC key", path.display())), "{warning}");
        for why in ["decrypted before anything authenticates them", "altered copy", "replay cache"] {
            assert!(warning.contains(why), "{warning} lacks {why:?}");
        }
        assert!(!warning.contains(KEY));
        // Stanzas with an HMAC key are not affected by the opt-in: no such warning for them.
        assert_eq!(allowed.warnings.iter().filter(|w| w.contains("no HMAC key")).count(), 1);
    }

    #[test]
    fn one_key_reader_serves_the_encryption_and_hmac_keys_alike() {
        for (plain, b64) in [("KEY", "KEY_BASE64"), ("HMAC_KEY", "HMAC_KEY_BASE64")] {
            let literal = read_key(plain, "secret ", 3).expect("literal");
            assert_eq!((literal.bytes.as_slice(), literal.line, literal.literal), (&b"secret "[..], 3, true));
            let decoded = read_key(b64, "c2VjcmV0", 4).expect("base64");
            assert_eq!((decoded.bytes.as_slice(), decoded.line, decoded.literal), (&b"secret"[..], 4, false));
            let changeme = read_key(b64, "__CHANGEME__", 5).err().expect("refused");
            assert!(changeme.starts_with(b64) && changeme.contains("__CHANGEME__"), "{changeme}");
            let bad = read_key(b64, "not*base64secret", 6).err().expect("refused");
            assert!(bad.starts_with(&format!("{b64}: ")) && !bad.contains("secret"), "{bad}");
        }
    }

    #[test]
    fn errors_fwknopd_would_refuse_name_the_file_and_line() {
        let dir = tempfile::tempdir().expect("dir");
        let cases: &[(&str, usize, &str)] = &[
            ("SOURCE ANY\nKEY_BASE64 __CHANGEME__\n", 2, "__CHANGEME__"),
            ("SOURCE ANY\nKEY_BASE64 not*base64\n", 2, "base64"),
            ("SOURCE 10.0.0.300\nKEY a\nHMAC_KEY b\n", 1, "invalid SOURCE"),
            ("SOURCE 10.0.0.0/33\nKEY a\nHMAC_KEY b\n", 1, "CIDR"),
            ("SOURCE 10.0.0.0/\nKEY a\nHMAC_KEY b\n", 1, "mask"),
            ("SOURCE ANY\nKEY a\nHMAC_KEY b\nOPEN_PORTS tcp/99999\n", 4, "OPEN_PORTS"),
            ("SOURCE ANY\nKEY a\nHMAC_KEY b\nOPEN_PORTS icmp/1\n", 4, "tcp or udp"),
            ("SOURCE ANY\nKEY a\nHMAC_KEY b\nHMAC_DIGEST_TYPE sha999\n", 4, "HMAC_DIGEST_TYPE"),
            ("SOURCE ANY\nKEY a\nHMAC_KEY b\nFW_ACCESS_TIMEOUT -1\n", 4, "FW_ACCESS_TIMEOUT"),
            ("SOURCE ANY\nKEY a\nHMAC_KEY b\nMAX_FW_TIMEOUT 9999999999\n", 4, "MAX_FW_TIMEOUT"),
            ("SOURCE ANY\nKEY a\nHMAC_KEY b\nENCRYPTION_MODE nope\n", 4, "ENCRYPTION_MODE"),
            ("SOURCE ANY\nKEY a\nHMAC_KEY a\n", 3, "identical"),
            ("SOURCE ANY\nOPEN_PORTS tcp/22\n", 1, "no keys"),
            ("SOURCE ANY\nKEY a\nHMAC_KEY b\nCMD_CYCLE_OPEN x\n", 4, "CMD_CYCLE_CLOSE"),
            ("SOURCE ANY\nKEY a\nHMAC_KEY b\nCMD_CYCLE_OPEN x\nCMD_CYCLE_CLOSE y\n", 4, "CMD_CYCLE_TIMER"),
            ("SOURCE ANY\nKEY a\nHMAC_KEY b\nCMD_CYCLE_TIMER 0\n", 4, "CMD_CYCLE_TIMER"),
            ("SOURCE ANY\nKEY a\nHMAC_KEY b\nACCESS_EXPIRE 2030-01-01\n", 4, "MM/DD/YYYY"),
            ("SOURCE ANY\nKEY a\nHMAC_KEY b\nOPEN_PORTS\n", 4, "VARIABLE VALUE"),
            ("# only comments\n", 0, "no SOURCE stanza"),
        ];
        for (text, line, what) in cases {
            let path = write(dir.path(), "access.conf", text);
            let err = load(&path, NoHmac::Refuse).expect_err(text);
            assert_eq!(err.line, *line, "{text:?}: {err}");
            assert!(err.to_string().contains(what), "{text:?}: {err}");
            assert!(err.to_string().starts_with(&format!("{}:{line}: ", path.display())), "{err}");
        }
    }

    #[test]
    fn include_directives_are_followed_as_fwknopd_follows_them() {
        let dir = tempfile::tempdir().expect("dir");
        let keys = write(dir.path(), "keys", &format!("KEY_BASE64 {KEY}\nHMAC_KEY_BASE64 {HMAC}\nOPEN_PORTS tcp/1\n"));
        let folder = dir.path().join("conf.d");
        std::fs::create_dir(&folder).expect("mkdir");
        write(&folder, "b.conf", &stanza("OPEN_PORTS tcp/2\n"));
        write(&folder, "a.conf", &stanza("OPEN_PORTS tcp/1\n"));
        write(&folder, "skip.txt", &stanza(""));
        let inner = write(dir.path(), "inner", &stanza("OPEN_PORTS tcp/3\n"));
        let main = write(
            dir.path(),
            "access.conf",
            &format!(
                "SOURCE 10.0.0.1\n%include_keys {}\n%include {}\n%include_folder {}\n",
                keys.display(),
                inner.display(),
                folder.display()
            ),
        );
        let conf = load(&main, NoHmac::Refuse).expect("load");
        let ports: Vec<_> = conf.stanzas.iter().map(|s| (s.number, s.open_ports.clone())).collect();
        assert_eq!(
            ports,
            vec![
                (2, Some(vec![(Protocol::Tcp, 3)])),
                (3, Some(vec![(Protocol::Tcp, 1)])),
                (4, Some(vec![(Protocol::Tcp, 2)])),
                (1, None)
            ],
            "included stanzas come first; %include_keys reads only keys"
        );
        // A file that includes itself stops at fwknopd's depth limit.
        let looped = dir.path().join("loop.conf");
        write(dir.path(), "loop.conf", &format!("%include {}\n", looped.display()));
        assert!(load(&looped, NoHmac::Refuse).expect_err("loop").reason.contains("3 levels"));
    }

    #[test]
    fn permissions_are_checked_as_fwknopd_checks_them() {
        let dir = tempfile::tempdir().expect("dir");
        let path = write(dir.path(), "access.conf", &stanza(""));
        assert!(load(&path, NoHmac::Refuse).expect("0600").warnings.iter().all(|w| !w.contains("permissions")));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        assert!(load(&path, NoHmac::Refuse).expect("0640 warns").warnings.iter().any(|w| w.contains("0600")));
        for mode in [0o644, 0o602, 0o660] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
            let err = load(&path, NoHmac::Refuse).expect_err("refused");
            assert!(err.reason.contains("chmod 600"), "{mode:o}: {err}");
        }
        assert!(load(dir.path(), NoHmac::Refuse).expect_err("a directory").reason.contains("regular file"));
    }

    #[test]
    fn only_literal_keys_ending_in_blanks_are_warned_about() {
        let dir = tempfile::tempdir().expect("dir");
        // "AAAAAAAAAAAAAAAAAAAAIA==" decodes to 15 zero bytes and a space.
        let text = "SOURCE ANY\nKEY_BASE64 AAAAAAAAAAAAAAAAAAAAIA==\nHMAC_KEY secret \n";
        let conf = load(&write(dir.path(), "access.conf", text), NoHmac::Refuse).expect("load");
        let blanks: Vec<&String> = conf.warnings.iter().filter(|w| w.contains("ends with blanks")).collect();
        assert_eq!(blanks.len(), 1, "{blanks:?}");
        assert!(blanks[0].contains(":3:") && blanks[0].contains("HMAC_KEY"), "{blanks:?}");
        assert_eq!(conf.stanzas[0].hmac_key.as_ref().expect("HMAC key").as_bytes(), b"secret ");
    }

    #[test]
    fn dates_are_midnight_utc() {
        assert_eq!(parse_date("01/01/2030"), Some(1_893_456_000));
        assert_eq!(parse_date("12/31/99"), Some(4_102_358_400));
        assert_eq!(parse_date("13/01/2030"), None);
        assert_eq!(parse_date("x"), None);
    }

    #[test]
    fn bad_input_never_panics() {
        let dir = tempfile::tempdir().expect("dir");
        let mut rng = knock_e2e::rng::Rng::new(25);
        let words = [
            "SOURCE",
            "KEY",
            "KEY_BASE64",
            "HMAC_KEY",
            "HMAC_KEY_BASE64",
            "OPEN_PORTS",
            "RESTRICT_PORTS",
            "DESTINATION",
            "%include",
            "%include_keys",
            "%include_folder",
            "ACCESS_EXPIRE",
            "ACCESS_EXPIRE_EPOCH",
            "CMD_CYCLE_OPEN",
            "CMD_CYCLE_CLOSE",
            "CMD_CYCLE_TIMER",
            "FW_ACCESS_TIMEOUT",
            "MAX_FW_TIMEOUT",
            "HMAC_DIGEST_TYPE",
            "#",
            "ANY",
            "10.0.0.1/8",
            "tcp/22,udp/1",
            "/",
            ",",
            ";",
            ":",
            "\t",
            " ",
            "\r",
            "\u{e9}",
            "==",
            "NONE",
            "9",
            "01/02/2030",
            KEY,
            HMAC,
            "::1/200",
            "255.255.0.0",
        ];
        for _ in 0..500 {
            let mut text = String::new();
            for _ in 0..rng.below(30) {
                text.push_str(words[rng.below(words.len())]);
                text.push(if rng.below(3) == 0 { '\n' } else { ' ' });
            }
            let path = write(dir.path(), "fuzz.conf", &text);
            let _ = load(&path, NoHmac::Refuse);
        }
    }
}
