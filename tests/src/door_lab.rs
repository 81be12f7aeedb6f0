//! Shared pieces of the doctor and already-open tests: running `knock-cli` in the client namespace with
//! the lab's profile directory, a knockd whose doors gate a TCP port with iptables, and counting the
//! ACCEPT rules a door left behind.

use std::process::Output;

use crate::bins::knock_cli_path;
use crate::{Knockd, Lab};

impl Lab {
    /// Runs `knock-cli --profiles-dir <lab>/profiles ARGS...` in the client namespace.
    pub fn knock_cli(&self, args: &[&str]) -> Output {
        let mut full = vec!["--profiles-dir".to_owned(), self.dir().join("profiles").display().to_string()];
        full.extend(args.iter().map(|a| (*a).to_owned()));
        self.run_client(knock_cli_path(), &full).expect("knock-cli runs in the client namespace")
    }

    /// knockd gating `port`: `[openSSH]` on `open` runs `start_prefix` then the gate-open command (both
    /// families); `[closeSSH]` on 9000,8000,7000 removes one rule. `start_prefix` lets a test slow the
    /// door down (`sleep 2;`).
    pub fn gated_knockd(&self, port: u16, open: &str, start_prefix: &str) -> Knockd {
        self.server_gate_tcp_port(port).expect("gate");
        let door = |name: &str, sequence: &str, v4: String, v6: String| {
            format!(
                "[{name}]\n  sequence = {sequence}\n  seq_timeout = 10\n  tcpflags = syn\n  \
                 start_command = {v4}\n  start_command_6 = {v6}\n"
            )
        };
        let conf =
            door(
                "openSSH",
                open,
                format!("{start_prefix}{}", Lab::gate_open_command(port)),
                format!("{start_prefix}{}", Lab::gate_open_command_v6(port)),
            ) + &door("closeSSH", "9000,8000,7000", Lab::gate_close_command(port), Lab::gate_close_command_v6(port));
        self.start_knockd(&conf).expect("knockd starts")
    }

    /// An IPv6-only door on the gated TCP `port` (sequence 7000,8000,9000, SYN): an IPv4 knock reaches
    /// knockd but opens nothing. Something listens on `port`; keep the returned service alive.
    pub fn ipv6_only_knockd(&self, port: u16) -> (Knockd, crate::services::TcpService) {
        self.server_gate_tcp_port(port).expect("gate");
        let conf = format!(
            "[openSSH]\n  sequence = 7000,8000,9000\n  seq_timeout = 10\n  tcpflags = syn\n  start_command_6 = {}\n",
            Lab::gate_open_command_v6(port)
        );
        let knockd = self.start_knockd(&conf).expect("knockd");
        let service = self.server_tcp_listener_any(port).expect("listener");
        (knockd, service)
    }

    /// How many `-j ACCEPT` rules for TCP `port` the server's IPv4 INPUT chain holds.
    pub fn server_accept_rules(&self, port: u16) -> usize {
        let out = self.run_server("iptables", ["-w", "5", "-S", "INPUT"]).expect("iptables -S");
        let rules = String::from_utf8_lossy(&out.stdout).into_owned();
        rules.lines().filter(|l| l.contains("-j ACCEPT") && l.contains(&format!("--dport {port}"))).count()
    }
}

/// Exit status and both streams, for assertion messages.
pub use crate::text;
