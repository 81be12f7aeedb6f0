//! nftables inside the lab's server namespace (nft works per network namespace), and a TCP reachability
//! probe from a chosen client address, for knock-server's nftables doors.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::lab::{Lab, LabError, Side};

/// The ruleset docs/server.md gives for `Nft_Set = inet knock allow4` / `Nft_Set_6 = inet knock
/// allow6`, guarding `port`.
pub fn knock_ruleset(port: u16) -> String {
    format!(
        "table inet knock {{\n  set allow4 {{ type ipv4_addr; flags timeout; }}\n  set allow6 {{ type ipv6_addr; flags timeout; }}\n  \
         chain knock_input {{\n    type filter hook input priority filter; policy accept;\n    \
         tcp dport {port} ip saddr @allow4 accept\n    tcp dport {port} ip6 saddr @allow6 accept\n    tcp dport {port} drop\n  }}\n}}\n"
    )
}

impl Lab {
    /// Loads an nft script (`nft -f`) in the server namespace.
    pub fn server_nft_load(&self, script: &str) -> Result<(), LabError> {
        let path = self.unique_path("ruleset", "nft");
        std::fs::write(&path, script).map_err(|e| LabError::io("writing the nft script", e))?;
        let file = path.display().to_string();
        let out = self.run(Side::Server, "nft", ["-f", file.as_str()], Duration::from_secs(10))?;
        if !out.status.success() {
            return Err(LabError::Command {
                command: format!("nft -f {file}"),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim_end().to_string(),
            });
        }
        Ok(())
    }

    /// `nft list set FAMILY TABLE SET` in the server namespace (stdout; the error text if it fails).
    pub fn server_nft_list_set(&self, family: &str, table: &str, set: &str) -> String {
        match self.run(Side::Server, "nft", ["list", "set", family, table, set], Duration::from_secs(10)) {
            Ok(out) => format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
            Err(e) => e.to_string(),
        }
    }

    /// Whether a TCP connection from the client address `src` to `dst` is established within 1 s
    /// (curl reports `Connected to` once the handshake completed; a DROP times out).
    pub fn client_reaches_from(&self, src: IpAddr, dst: SocketAddr) -> bool {
        let url = format!("http://{dst}/");
        let src = src.to_string();
        let args = ["-sv", "--connect-timeout", "1", "-m", "2", "--interface", src.as_str(), url.as_str()];
        match self.run(Side::Client, "curl", args, Duration::from_secs(5)) {
            Ok(out) => String::from_utf8_lossy(&out.stderr).contains("Connected to"),
            Err(_) => false,
        }
    }
}
