//! The client behind a NAT: its route to the server gets a private source address (10.66.0.1 on `lo`)
//! and the client namespace's own `nat` table rewrites that source to the client's lab address on the
//! way out (SNAT; replies are translated back by conntrack). The server thus sees 192.0.2.1 while the
//! client's programs see 10.66.0.1 as their source, exactly as behind a home router.

use crate::Lab;
use crate::lab::LabError;

/// The private address the client's programs see as their source behind the NAT.
pub const PRIVATE_SOURCE: &str = "10.66.0.1";

impl Lab {
    /// Puts the client behind a source NAT towards the server's IPv4 address (see the module docs).
    /// Everything lives in the client namespace and goes with it.
    pub fn client_behind_nat(&self) -> Result<(), LabError> {
        let server = format!("{}/32", self.server_v4());
        let client = self.client_v4().to_string();
        let iface = self.client_iface().to_owned();
        let steps: [Vec<&str>; 3] = [
            vec!["ip", "addr", "add", "10.66.0.1/32", "dev", "lo"],
            vec!["ip", "route", "replace", &server, "dev", &iface, "src", PRIVATE_SOURCE],
            vec![
                "iptables",
                "-w",
                "5",
                "-t",
                "nat",
                "-A",
                "POSTROUTING",
                "-s",
                PRIVATE_SOURCE,
                "-o",
                &iface,
                "-j",
                "SNAT",
                "--to-source",
                &client,
            ],
        ];
        for step in steps {
            let out = self.run_client(step[0], &step[1..])?;
            if !out.status.success() {
                return Err(LabError::Command {
                    command: step.join(" "),
                    status: out.status.to_string(),
                    stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                });
            }
        }
        Ok(())
    }
}
