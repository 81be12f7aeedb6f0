//! The capture interface's own addresses, which doors without a Target accept hits to (as knockd does).
//! knockd reads them once; they are looked up again every [`ADDRESS_REFRESH`], so a DHCP or PPPoE change
//! needs no restart.

use std::net::IpAddr;
use std::time::{Duration, Instant};

pub(crate) const ADDRESS_REFRESH: Duration = Duration::from_secs(10);

/// The interface's addresses. None (accept any destination) only if the interface cannot be looked up,
/// which the log says.
pub(crate) fn interface_addresses(interface: &str) -> Option<Vec<IpAddr>> {
    let devices = pcap::Device::list().ok()?;
    let device = devices.into_iter().find(|d| d.name == interface)?;
    Some(device.addresses.into_iter().map(|a| a.addr).collect())
}

/// For the log.
pub(crate) fn describe(local: &Option<Vec<IpAddr>>) -> String {
    match local {
        Some(addresses) if !addresses.is_empty() => {
            addresses.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        }
        Some(_) => "none (no knock can reach a door without a Target)".to_owned(),
        None => "unknown: hits to any destination count".to_owned(),
    }
}

/// The interface's addresses as last read, and when to read them again.
pub(crate) struct AddressWatch {
    interface: String,
    current: Option<Vec<IpAddr>>,
    read_at: Instant,
}

impl AddressWatch {
    pub(crate) fn new(interface: &str) -> AddressWatch {
        AddressWatch {
            interface: interface.to_owned(),
            current: interface_addresses(interface),
            read_at: Instant::now(),
        }
    }

    pub(crate) fn current(&self) -> &Option<Vec<IpAddr>> {
        &self.current
    }

    /// Looks again when [`ADDRESS_REFRESH`] has passed; the new addresses if they changed.
    pub(crate) fn refresh(&mut self) -> Option<&Option<Vec<IpAddr>>> {
        if self.read_at.elapsed() < ADDRESS_REFRESH {
            return None;
        }
        self.read_at = Instant::now();
        let now = interface_addresses(&self.interface);
        if now == self.current {
            return None;
        }
        self.current = now;
        Some(&self.current)
    }
}
