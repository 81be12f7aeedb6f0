//! A real fwknopd in the lab's server namespace: it watches the server veth for SPA packets on UDP 62201,
//! with one access.conf stanza the test writes, logs to `<labdir>/fwknop/fwknopd.log` (-f -v -v), and is
//! stopped on drop (SIGTERM first, so it removes the iptables chains it made).

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::lab::{Lab, LabError};
use crate::wait_until;

/// An fwknop key pair, as access.conf's `KEY_BASE64` / `HMAC_KEY_BASE64` and the client's rc file take them.
pub struct SpaKeys {
    pub key: String,
    pub hmac: String,
}

pub struct Fwknopd {
    child: Child,
    log: PathBuf,
}

impl Lab {
    /// A fresh key pair from `knock-cli spa keygen` (fwknop's KEY_BASE64 / HMAC_KEY_BASE64 lines), run in
    /// the client namespace. Panics when knock-cli is not built or prints no key lines (a test's setup).
    pub fn spa_keygen(&self) -> SpaKeys {
        let out = self.run_client(crate::bins::knock_cli_path(), ["spa", "keygen"]).expect("keygen runs");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let value = |prefix: &str| {
            text.lines().find_map(|l| l.strip_prefix(prefix)).map(|v| v.trim().to_owned()).expect("key line")
        };
        SpaKeys { key: value("KEY_BASE64: "), hmac: value("HMAC_KEY_BASE64: ") }
    }

    /// Starts fwknopd with `access` as its access.conf (`SOURCE ...`, `KEY_BASE64 ...`, ...); returns once
    /// its event loop runs.
    pub fn start_fwknopd(&self, access: &str) -> Result<Fwknopd, LabError> {
        let dir = self.dir().join("fwknop");
        let run = dir.join("run");
        fs::create_dir_all(&run).map_err(|e| LabError::io("creating fwknopd's run dir", e))?;
        let conf = format!(
            "PCAP_INTF {};\nENABLE_PCAP_PROMISC N;\nPCAP_FILTER udp port 62201;\nENABLE_SPA_PACKET_AGING Y;\n\
             MAX_SPA_PACKET_AGE 120;\nENABLE_DIGEST_PERSISTENCE Y;\nFWKNOP_RUN_DIR {run};\n\
             FWKNOP_PID_FILE {run}/fwknopd.pid;\nDIGEST_FILE {run}/digest.cache;\n",
            self.server_iface(),
            run = run.display()
        );
        let write = |name: &str, text: &str| {
            fs::write(dir.join(name), text).map_err(|e| LabError::io(format!("writing {name}"), e))
        };
        write("fwknopd.conf", &conf)?;
        write("access.conf", access)?;
        let log = dir.join("fwknopd.log");
        let file = |path: PathBuf| fs::File::create(&path).map_err(|e| LabError::io("creating fwknopd's log", e));
        let child = self
            .server_cmd("fwknopd")
            .arg("-c")
            .arg(dir.join("fwknopd.conf"))
            .arg("-a")
            .arg(dir.join("access.conf"))
            .args(["-f", "-v", "-v"])
            .stdin(Stdio::null())
            .stdout(file(dir.join("fwknopd.out"))?)
            .stderr(file(log.clone())?)
            .spawn()
            .map_err(|e| LabError::io("starting fwknopd", e))?;
        let fwknopd = Fwknopd { child, log };
        if !fwknopd.wait_for("Starting fwknopd main event loop", Duration::from_secs(10)) {
            return Err(LabError::Startup { what: "fwknopd".into(), detail: fwknopd.log() });
        }
        Ok(fwknopd)
    }
}

impl Fwknopd {
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn wait_for(&self, needle: &str, timeout: Duration) -> bool {
        wait_until(timeout, || self.log().contains(needle))
    }
}

impl Drop for Fwknopd {
    fn drop(&mut self) {
        // SIGTERM first: it lets fwknopd remove its iptables chains.
        crate::process::signal(self.child.id(), libc::SIGTERM);
        if !wait_until(Duration::from_secs(3), || matches!(self.child.try_wait(), Ok(Some(_)))) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
