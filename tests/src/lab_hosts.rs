//! A host name the test controls, with A and AAAA records, seen only inside the client namespace:
//! `ip netns exec NS` bind-mounts `/etc/netns/NS/hosts` over `/etc/hosts` for the command it runs, so
//! getaddrinfo (our `knock-cli`, `ssh`) resolves it through the hosts file. No DNS server, nothing
//! outside the lab changes; the directory is removed when the guard drops.

use std::fs;
use std::net::IpAddr;
use std::path::PathBuf;

use crate::Lab;
use crate::lab::LabError;

/// Removes `/etc/netns/<client namespace>/` on drop.
#[derive(Debug)]
pub struct ClientHosts {
    dir: PathBuf,
}

impl Lab {
    /// Makes `name` resolve to `addresses` (in this order) inside the client namespace.
    pub fn client_hosts_entry(&self, name: &str, addresses: &[IpAddr]) -> Result<ClientHosts, LabError> {
        let dir = PathBuf::from("/etc/netns").join(self.client_ns());
        fs::create_dir_all(&dir).map_err(|e| LabError::io(format!("creating {}", dir.display()), e))?;
        let mut hosts = String::from("127.0.0.1 localhost\n::1 localhost\n");
        for address in addresses {
            hosts.push_str(&format!("{address} {name}\n"));
        }
        let path = dir.join("hosts");
        fs::write(&path, hosts).map_err(|e| LabError::io(format!("writing {}", path.display()), e))?;
        Ok(ClientHosts { dir })
    }
}

impl Drop for ClientHosts {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}
