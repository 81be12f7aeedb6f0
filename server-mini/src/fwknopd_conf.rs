//! The few fwknopd.conf settings the SPA door reads (`--fwknopd-conf`), with fwknopd's defaults:
//! `PCAP_FILTER` (only its `udp [dst] port N` form: the SPA port, default 62201), `MAX_SPA_PACKET_AGE`
//! (0..=100000, default 120), `ENABLE_SPA_PACKET_AGING` (default Y), `ENABLE_DIGEST_PERSISTENCE`
//! (default Y) and `FIREWALL_TYPE` (read for a warning: knock-server opens through an nft set or
//! `CMD_CYCLE_*`, never iptables rules). Lines are `VAR VALUE` as in access.conf (`#` comments, the value
//! ends at `;`); other variables are ignored.

use std::path::{Path, PathBuf};

use crate::spa_door::DEFAULT_MAX_AGE;

/// fwknopd's `RCHK_MAX_SPA_PACKET_AGE`.
const MAX_PACKET_AGE: u64 = 100_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FwknopdConf {
    pub(crate) port: u16,
    pub(crate) max_age: u64,
    pub(crate) aging: bool,
    pub(crate) digest_persistence: bool,
    pub(crate) firewall_type: Option<String>,
}

impl Default for FwknopdConf {
    fn default() -> FwknopdConf {
        FwknopdConf {
            port: client_core::spa::DEFAULT_PORT,
            max_age: DEFAULT_MAX_AGE,
            aging: true,
            digest_persistence: true,
            firewall_type: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {reason}", file.display())]
pub(crate) struct FwknopdConfError {
    pub(crate) file: PathBuf,
    pub(crate) line: usize,
    pub(crate) reason: String,
}

pub(crate) fn load(path: &Path) -> Result<FwknopdConf, FwknopdConfError> {
    let text = std::fs::read_to_string(path).map_err(|e| FwknopdConfError {
        file: path.to_owned(),
        line: 0,
        reason: format!("cannot read: {e}"),
    })?;
    parse(&text).map_err(|(line, reason)| FwknopdConfError { file: path.to_owned(), line, reason })
}

fn parse(text: &str) -> Result<FwknopdConf, (usize, String)> {
    let mut conf = FwknopdConf::default();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        if matches!(raw.as_bytes().first(), None | Some(b'#' | b';')) {
            continue;
        }
        let trimmed = raw.trim_start();
        let (var, rest) = trimmed.split_once(|c: char| c.is_ascii_whitespace()).unwrap_or((trimmed, ""));
        let value = rest.trim_start().split([';', '\r']).next().unwrap_or("").trim_end();
        let yes = value.as_bytes().first().is_some_and(|b| b.eq_ignore_ascii_case(&b'y'));
        match var {
            "PCAP_FILTER" => {
                conf.port = spa_port(value).ok_or_else(|| {
                    (line, format!("PCAP_FILTER {value:?}: knock-server reads `udp port N` (or `udp dst port N`)"))
                })?;
            }
            "MAX_SPA_PACKET_AGE" => {
                conf.max_age = value.parse::<u64>().ok().filter(|age| *age <= MAX_PACKET_AGE).ok_or_else(|| {
                    (line, format!("MAX_SPA_PACKET_AGE {value:?}: expected 0 to {MAX_PACKET_AGE} seconds"))
                })?;
            }
            "ENABLE_SPA_PACKET_AGING" => conf.aging = yes,
            "ENABLE_DIGEST_PERSISTENCE" => conf.digest_persistence = yes,
            "FIREWALL_TYPE" => conf.firewall_type = Some(value.to_owned()),
            _ => {}
        }
    }
    Ok(conf)
}

/// The port of `udp port N` / `udp dst port N`.
fn spa_port(filter: &str) -> Option<u16> {
    let words: Vec<&str> = filter.split_whitespace().collect();
    let port = match words.as_slice() {
        ["udp", "port", port] | ["udp", "dst", "port", port] => port,
        _ => return None,
    };
    port.parse::<u16>().ok().filter(|p| *p > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fwknopd_defaults_and_the_settings_read() {
        assert_eq!(parse("# nothing\n").expect("empty"), FwknopdConf::default());
        let conf = parse(
            "PCAP_FILTER    udp dst port 40000;\nMAX_SPA_PACKET_AGE 30\nENABLE_SPA_PACKET_AGING N;\n\
             ENABLE_DIGEST_PERSISTENCE no\nFIREWALL_TYPE iptables\nPCAP_INTF eth0\n",
        )
        .expect("conf");
        assert_eq!(
            conf,
            FwknopdConf {
                port: 40000,
                max_age: 30,
                aging: false,
                digest_persistence: false,
                firewall_type: Some("iptables".into())
            }
        );
        assert_eq!(parse("PCAP_FILTER tcp port 22\n").expect_err("tcp").0, 1);
        assert!(parse("\nMAX_SPA_PACKET_AGE 100001\n").expect_err("range").1.contains("0 to 100000"));
    }
}
