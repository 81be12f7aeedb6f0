//! Native nftables doors: a completed knock puts the source address into a named set with a timeout,
//! and the kernel removes it when the timeout passes. The door therefore closes on time even if
//! knock-server is killed with SIGKILL, no shell is involved, and a repeat knock refreshes the timeout
//! instead of adding a second rule.
//!
//! The kernel is reached through the `nftables` crate, which builds nft's JSON schema in Rust types and
//! hands it to `nft -j -f -` (libnftables does the netlink): a kept, typed interface with nothing
//! hand-written about netlink, and the same tool operators use to inspect the set. (rustables and nftnl
//! talk netlink directly but cover set elements with timeouts less completely, and nftnl needs the C
//! libnftnl.) Every batch is one nft transaction.
//!
//! Per OS: nftables exists on Linux only; elsewhere an `Nft_Set` key is a configuration error that says
//! so (macOS doors use commands, e.g. with pfctl tables).

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use nftables::batch::Batch;
use nftables::expr::{Elem, Expression, NamedExpression};
use nftables::helper::{self, NftablesError};
use nftables::schema::{Element, NfListObject, Nftables};
use nftables::types::NfFamily;

/// The nft program (from PATH; Debian installs it as /usr/sbin/nft).
const NFT: &str = "nft";

/// Which source family a set key is for (`Nft_Set` or `Nft_Set_6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NftFamilyUse {
    Ipv4,
    Ipv6,
}

/// Why an `Nft_Set` / `Nft_Set_6` value is refused (the configuration error names the line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum NftSetError {
    #[error("nftables exists on Linux only: on this OS use Start_Command/Stop_Command (e.g. pfctl)")]
    NotLinux,
    #[error("expected FAMILY TABLE SET, e.g. {example}")]
    NotThreeWords { example: &'static str },
    #[error("family {family:?} cannot hold these sources: use {valid}, e.g. {example}")]
    WrongFamily { family: String, valid: &'static str, example: &'static str },
    #[error(
        "{name:?} is not an nft name (letters, digits, _ . - , starting with a letter; at most 64), e.g. {example}"
    )]
    NotAName { name: String, example: &'static str },
}

/// Why nft did not do what it was asked; the text carries nft's own words where it said any.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NftError {
    #[error("cannot write the nft batch as JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot run {program}: {source}")]
    Spawn { program: String, source: std::io::Error },
    #[error("waiting for {program}: {source}")]
    Wait { program: String, source: std::io::Error },
    #[error("cannot write to {program}: {source}")]
    Write { program: String, source: std::io::Error },
    /// `nft -j -f -` failed: its stderr (else stdout) on one line.
    #[error("nft failed ({status}): {words}")]
    Applying { status: std::process::ExitStatus, words: String },
    /// `nft list set` failed: its stderr on one line.
    #[error("nft failed: {words}")]
    Listing { words: String },
    #[error(transparent)]
    Asking(NftablesError),
}

/// `FAMILY TABLE SET`, e.g. `inet knock allow4`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NftSet {
    pub(crate) family: NfFamily,
    pub(crate) table: String,
    pub(crate) set: String,
}

impl NftSet {
    /// Parses `FAMILY TABLE SET`; the family must be able to hold sources of `family_use`
    /// (`inet` or `ip` for IPv4, `inet` or `ip6` for IPv6).
    pub(crate) fn parse(text: &str, family_use: NftFamilyUse) -> Result<NftSet, NftSetError> {
        let example = match family_use {
            NftFamilyUse::Ipv4 => "inet knock allow4",
            NftFamilyUse::Ipv6 => "inet knock allow6",
        };
        if cfg!(not(target_os = "linux")) {
            return Err(NftSetError::NotLinux);
        }
        let words: Vec<&str> = text.split_whitespace().collect();
        let [family, table, set] = words[..] else {
            return Err(NftSetError::NotThreeWords { example });
        };
        let family = match (family.to_ascii_lowercase().as_str(), family_use) {
            ("inet", _) => NfFamily::INet,
            ("ip", NftFamilyUse::Ipv4) => NfFamily::IP,
            ("ip6", NftFamilyUse::Ipv6) => NfFamily::IP6,
            _ => {
                let valid = if family_use == NftFamilyUse::Ipv4 { "inet or ip" } else { "inet or ip6" };
                return Err(NftSetError::WrongFamily { family: family.to_owned(), valid, example });
            }
        };
        for name in [table, set] {
            if !is_identifier(name) {
                return Err(NftSetError::NotAName { name: name.to_owned(), example });
            }
        }
        Ok(NftSet { family, table: table.to_owned(), set: set.to_owned() })
    }

    fn family_name(&self) -> &'static str {
        match self.family {
            NfFamily::IP => "ip",
            NfFamily::IP6 => "ip6",
            NfFamily::INet => "inet",
            NfFamily::ARP => "arp",
            NfFamily::Bridge => "bridge",
            NfFamily::NetDev => "netdev",
        }
    }

    /// The batch that adds `source` with `timeout`, or refreshes its timeout if it is already there:
    /// add (a no-op when present), delete, add again, in one transaction.
    pub fn refresh_batch(&self, source: IpAddr, timeout: Duration) -> Nftables<'static> {
        let seconds = u32::try_from(timeout.as_secs()).unwrap_or(u32::MAX);
        let element = |timeout: Option<u32>| {
            NfListObject::Element(Element {
                family: self.family,
                table: Cow::Owned(self.table.clone()),
                name: Cow::Owned(self.set.clone()),
                elem: Cow::Owned(vec![Expression::Named(NamedExpression::Elem(Elem {
                    val: Box::new(Expression::String(Cow::Owned(source.to_string()))),
                    timeout,
                    expires: None,
                    comment: None,
                    counter: None,
                }))]),
            })
        };
        let mut batch = Batch::new();
        batch.add(element(Some(seconds)));
        batch.delete(element(None));
        batch.add(element(Some(seconds)));
        batch.to_nftables()
    }

    /// Puts `source` into the set for `timeout` (refreshing it if present). Blocks for one `nft` run.
    /// Errors carry nft's own words (its stderr: the `nftables` crate's helper leaves stderr to the
    /// terminal, so it runs `nft -j -f -` itself).
    pub(crate) fn refresh(&self, source: IpAddr, timeout: Duration) -> Result<(), NftError> {
        apply(NFT, &self.refresh_batch(source, timeout))
    }

    /// Whether the set exists (`--check`): Ok(true), Ok(false) when nft says it does not, Err when nft
    /// cannot be asked (not installed, no privilege to read the ruleset).
    pub(crate) fn exists(&self) -> Result<bool, NftError> {
        let args = ["list", "set", self.family_name(), self.table.as_str(), self.set.as_str()];
        match helper::get_current_ruleset_raw(Some(NFT), args) {
            Ok(_) => Ok(true),
            Err(NftablesError::NftFailed { stderr, .. }) if stderr.contains("No such file or directory") => Ok(false),
            Err(NftablesError::NftFailed { stderr, .. }) => Err(NftError::Listing { words: one_line(&stderr) }),
            Err(err) => Err(NftError::Asking(err)),
        }
    }

    /// The nft lines that create this set (`nft -f` syntax), for `--check`.
    pub(crate) fn definition(&self, family_use: NftFamilyUse) -> String {
        let kind = if family_use == NftFamilyUse::Ipv4 { "ipv4_addr" } else { "ipv6_addr" };
        format!("set {} {{ type {kind}; flags timeout; }}", self.set)
    }

    /// The rule that lets the set's members in, e.g. to SSH.
    pub(crate) fn accept_rule(&self, family_use: NftFamilyUse) -> String {
        let ip = if family_use == NftFamilyUse::Ipv4 { "ip" } else { "ip6" };
        format!("tcp dport 22 {ip} saddr @{} accept", self.set)
    }

    pub(crate) fn table_header(&self) -> String {
        format!("table {} {}", self.family_name(), self.table)
    }
}

impl fmt::Display for NftSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.family_name(), self.table, self.set)
    }
}

fn is_identifier(name: &str) -> bool {
    name.len() <= 64
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Runs `PROGRAM -j -f -` with `batch` on stdin; Err holds its stderr (or why it could not run).
fn apply(program: &str, batch: &Nftables) -> Result<(), NftError> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let json = serde_json::to_string(batch)?;
    let mut child = Command::new(program)
        .args(["-j", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| NftError::Spawn { program: program.to_owned(), source })?;
    let written = child.stdin.take().map(|mut stdin| stdin.write_all(json.as_bytes()));
    let output = child.wait_with_output().map_err(|source| NftError::Wait { program: program.to_owned(), source })?;
    if output.status.success() {
        return match written {
            Some(Err(source)) => Err(NftError::Write { program: program.to_owned(), source }),
            _ => Ok(()),
        };
    }
    let said = |bytes: &[u8]| one_line(&String::from_utf8_lossy(bytes));
    let words = [said(&output.stderr), said(&output.stdout)].into_iter().find(|w| !w.is_empty());
    Err(NftError::Applying { status: output.status, words: words.unwrap_or_else(|| "no message from nft".to_owned()) })
}

/// nft's words (it writes several lines, with a caret under the culprit) on one line, for the log.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

// nftables doors exist on Linux only: elsewhere NftSet::parse refuses every set.
#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn set_keys_parse_with_the_family_checked() {
        let set = NftSet::parse("inet knock allow4", NftFamilyUse::Ipv4).expect("valid");
        assert_eq!((set.family, set.table.as_str(), set.set.as_str()), (NfFamily::INet, "knock", "allow4"));
        assert_eq!(set.to_string(), "inet knock allow4");
        assert!(NftSet::parse("ip6 filter allow6", NftFamilyUse::Ipv6).is_ok());
        let e = NftSet::parse("ip6 knock allow4", NftFamilyUse::Ipv4).expect_err("family").to_string();
        assert!(e.contains("inet or ip"), "{e}");
        let e = NftSet::parse("inet knock", NftFamilyUse::Ipv4).expect_err("two words").to_string();
        assert!(e.contains("FAMILY TABLE SET"), "{e}");
        let e = NftSet::parse("inet knock al;low", NftFamilyUse::Ipv4).expect_err("name").to_string();
        assert!(e.contains("not an nft name"), "{e}");
    }

    #[test]
    fn a_failed_refresh_carries_nfts_reason() {
        // A table that does not exist: nft says why (no such file or directory, or no permission when not
        // root); the error must carry those words, not an empty reason.
        let set = NftSet::parse("inet knock_e2e_no_such_table allow4", NftFamilyUse::Ipv4).expect("valid");
        let err = set
            .refresh("192.0.2.1".parse().expect("ip"), Duration::from_secs(5))
            .expect_err("no such table")
            .to_string();
        if std::process::Command::new(NFT).arg("--version").output().is_ok() {
            assert!(err.starts_with("nft failed") && err.contains("Error:"), "{err}");
        } else {
            assert!(err.contains("cannot run nft"), "{err}");
        }
        let err =
            apply("/nonexistent/nft", &set.refresh_batch("192.0.2.1".parse().expect("ip"), Duration::from_secs(5)))
                .expect_err("no program")
                .to_string();
        assert!(err.contains("cannot run /nonexistent/nft"), "{err}");
    }

    #[test]
    fn a_refresh_is_add_delete_add_in_one_batch() {
        let set = NftSet::parse("inet knock allow4", NftFamilyUse::Ipv4).expect("valid");
        let json = serde_json::to_string(&set.refresh_batch("192.0.2.1".parse().expect("ip"), Duration::from_secs(30)))
            .expect("json");
        let adds = json.matches("\"add\"").count();
        let deletes = json.matches("\"delete\"").count();
        assert_eq!((adds, deletes), (2, 1), "{json}");
        assert!(json.contains("\"timeout\":30") && json.contains("192.0.2.1"), "{json}");
    }
}
