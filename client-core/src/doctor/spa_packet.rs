//! The `spa_packet` check: does the SPA datagram fit the path MTU towards the server? Measured where the
//! OS allows it ([`crate::probe::path_mtu`]); elsewhere against a fixed size that crosses every IPv6 path.

use std::net::IpAddr;
use std::time::Duration;

use super::{Check, Status};
use crate::probe::path_mtu::{self, udp_overhead};

/// Without a measurement: IPv6's minimum MTU of 1280 minus the IPv6 and UDP headers crosses any path.
const SPA_SAFE_PAYLOAD: usize = 1232;
/// How long the path MTU probe waits for an answer.
const PROBE_WAIT: Duration = Duration::from_millis(300);

const ADVICE: &str = "shorten the access list or user name, or raise the MTU of the smaller link: a fragmented SPA \
                      packet is often dropped on the way, and a server capturing packets may not reassemble it";

/// The check for an SPA packet of `size` bytes (`None`: not an SPA knock, no check).
pub(super) async fn measure(size: Option<usize>, server: IpAddr) -> Option<Check> {
    let size = size?;
    let wire = size + udp_overhead(server);
    let (status, detail, advice) = match path_mtu::measure(server, size, PROBE_WAIT).await {
        Ok(found) => {
            let probe = found.probe.map_or_else(|| "the probe crossed".to_owned(), |p| format!("probe: {p}"));
            let mtu = found.mtu as usize;
            if wire > mtu {
                (
                    Status::Warn,
                    format!(
                        "SPA packet of {size} bytes ({wire} with headers) does not fit the path MTU of {mtu} towards \
                         {server} ({probe}): it will be fragmented"
                    ),
                    ADVICE,
                )
            } else {
                (
                    Status::Ok,
                    format!(
                        "SPA packet of {size} bytes ({wire} with headers) fits the path MTU of {mtu} towards {server} ({probe})"
                    ),
                    "",
                )
            }
        }
        Err(error) => {
            let status = if size > SPA_SAFE_PAYLOAD { Status::Warn } else { Status::Ok };
            (
                status,
                format!("SPA packet of {size} bytes (safe below {SPA_SAFE_PAYLOAD}); path MTU not measured: {error}"),
                if status == Status::Warn { ADVICE } else { "" },
            )
        }
    };
    Some(Check { name: "spa_packet", status, detail, advice: advice.to_owned(), family: None })
}
