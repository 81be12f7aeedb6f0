//! Firewall rules inside the server namespace (iptables for IPv4, ip6tables for IPv6).
//!
//! Why: a real knock server keeps its service ports closed. With `INPUT DROP` the server sends
//! no RST, so clients see the same silence they see in the field, while [`crate::capture`] still
//! records the dropped packets (it taps the interface before netfilter). Rules live in the
//! lab's namespace and vanish with it. `-w` waits for the xtables lock, which is shared by all
//! namespaces, so parallel labs do not fail on it.

use std::time::Duration;

use crate::lab::{Lab, LabError, Side};

/// iptables' multiport match takes at most 15 ports per rule.
const MULTIPORT_MAX: usize = 15;

impl Lab {
    /// Appends `INPUT -p tcp --dport P -j DROP` for every port, IPv4 and IPv6.
    pub fn server_drop_tcp_ports(&self, ports: &[u16]) -> Result<(), LabError> {
        self.server_drop_ports("tcp", ports)
    }

    /// Runs `iptables ARGS` and `ip6tables ARGS` in the server namespace (e.g. for rules the
    /// helpers above do not cover). `-w` is added.
    pub fn server_iptables(&self, args: &[&str]) -> Result<(), LabError> {
        for tool in ["iptables", "ip6tables"] {
            let mut full = vec!["-w", "5"];
            full.extend_from_slice(args);
            let out = self.run(Side::Server, tool, &full, Duration::from_secs(15))?;
            if !out.status.success() {
                return Err(LabError::Command {
                    command: format!("{tool} {}", full.join(" ")),
                    status: out.status.to_string(),
                    stderr: String::from_utf8_lossy(&out.stderr).trim_end().to_string(),
                });
            }
        }
        Ok(())
    }

    fn server_drop_ports(&self, proto: &str, ports: &[u16]) -> Result<(), LabError> {
        for chunk in ports.chunks(MULTIPORT_MAX) {
            let list = chunk.iter().map(u16::to_string).collect::<Vec<_>>().join(",");
            self.server_iptables(&["-A", "INPUT", "-p", proto, "-m", "multiport", "--dports", &list, "-j", "DROP"])?;
        }
        Ok(())
    }
}
