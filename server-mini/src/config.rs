//! The server's configuration: a knockd.conf, read with client-core's knockd.conf parser and given
//! knockd's meaning, so users switch by pointing knock-server at their existing file. Every error names
//! the file, line and key and says what would be valid. [`lint`] adds the warnings of `--check`.

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use client_core::knockd_conf::{
    self, ConfError, DEFAULT_CMD_TIMEOUT_SECS, DEFAULT_SEQ_TIMEOUT_SECS, KnockdConf, Section, parse_sequence,
};
use client_core::{Hit, Protocol, Sequence, TcpFlagSpec};

/// Global options (`[options]`, or the command line).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Options {
    pub log_file: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub interface: Option<String>,
    pub use_syslog: bool,
}

/// Where a door's sequence comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum SequenceSource {
    Fixed(Sequence),
    /// `One_Time_Sequences = FILE`: each line a sequence, used once, in order.
    OneTime(PathBuf),
}

#[derive(Debug, Clone, PartialEq)]
pub struct DoorConfig {
    pub name: String,
    /// The line of the `[name]` header.
    pub line: usize,
    pub sequence: SequenceSource,
    pub seq_timeout: Duration,
    pub tcp_flags: Option<TcpFlagSpec>,
    pub start_command: Option<String>,
    pub start_command_6: Option<String>,
    pub stop_command: Option<String>,
    pub stop_command_6: Option<String>,
    pub cmd_timeout: Duration,
    pub target: Option<IpAddr>,
}

impl DoorConfig {
    /// The commands for a knock over IPv4 or IPv6 (`*_6` when set, else the IPv4 ones, as knockd does).
    pub fn commands(&self, ipv6: bool) -> (Option<&str>, Option<&str>) {
        (pick(ipv6, &self.start_command, &self.start_command_6), pick(ipv6, &self.stop_command, &self.stop_command_6))
    }
}

fn pick<'a>(ipv6: bool, v4: &'a Option<String>, v6: &'a Option<String>) -> Option<&'a str> {
    if ipv6 { v6.as_deref().or(v4.as_deref()) } else { v4.as_deref() }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    pub path: PathBuf,
    pub options: Options,
    pub doors: Vec<DoorConfig>,
}

/// Reads and checks a knockd.conf.
pub fn load(path: &Path) -> Result<ServerConfig, ConfError> {
    let conf = knockd_conf::parse_file(path)?;
    from_conf(&conf, path).map_err(|e| e.in_file(path))
}

pub fn from_conf(conf: &KnockdConf, path: &Path) -> Result<ServerConfig, ConfError> {
    conf.check_keys()?;
    let text = |key: &str| conf.option(key).and_then(|e| e.value.clone()).filter(|v| !v.is_empty());
    let options = Options {
        log_file: text("LogFile").map(PathBuf::from),
        pid_file: text("PidFile").map(PathBuf::from),
        interface: text("Interface"),
        use_syslog: conf.use_syslog(),
    };
    if conf.doors.is_empty() {
        return Err(ConfError::at_line(1, "no doors: add a section such as [openSSH] with a Sequence"));
    }
    let doors = conf.doors.iter().map(|section| door(section, path)).collect::<Result<Vec<_>, _>>()?;
    Ok(ServerConfig { path: path.to_owned(), options, doors })
}

fn door(section: &Section, config_path: &Path) -> Result<DoorConfig, ConfError> {
    let sequence = match (section.sequence()?, section.directive("One_Time_Sequences")) {
        (_, Some(entry)) => {
            let file = entry.parse_value(|v| Ok(PathBuf::from(v)))?;
            // Relative paths are relative to the config file, not to wherever the server was started.
            let file =
                if file.is_relative() { config_path.parent().unwrap_or(Path::new(".")).join(file) } else { file };
            SequenceSource::OneTime(file)
        }
        (Some(sequence), None) => SequenceSource::Fixed(sequence),
        (None, None) => {
            return Err(ConfError::at_line(
                section.line,
                format!(
                    "door [{}] has no Sequence (e.g. Sequence = 7000,8000,9000) and no One_Time_Sequences",
                    section.name
                ),
            ));
        }
    };
    let command = |key: &str| section.directive(key).and_then(|e| e.value.clone()).filter(|v| !v.trim().is_empty());
    let target = match section.directive("Target") {
        None => None,
        Some(entry) => Some(
            entry
                .parse_value(|v| Ok(v.trim().to_owned()))?
                .parse::<IpAddr>()
                .map_err(|_| ConfError::at_entry(entry, "expected one IP address, e.g. Target = 192.0.2.10"))?,
        ),
    };
    Ok(DoorConfig {
        name: section.name.clone(),
        line: section.line,
        sequence,
        seq_timeout: Duration::from_secs(section.seconds("Seq_Timeout")?.unwrap_or(DEFAULT_SEQ_TIMEOUT_SECS)),
        tcp_flags: section.tcp_flags()?,
        start_command: command("Start_Command"),
        start_command_6: command("Start_Command_6"),
        stop_command: command("Stop_Command"),
        stop_command_6: command("Stop_Command_6"),
        cmd_timeout: Duration::from_secs(section.seconds("Cmd_Timeout")?.unwrap_or(DEFAULT_CMD_TIMEOUT_SECS)),
        target,
    })
}

/// The sequences of a one-time file: every line that is not blank and does not start with `#` (a used
/// sequence is commented out), with its line number.
pub fn read_one_time(path: &Path) -> Result<Vec<(usize, Sequence)>, ConfError> {
    let text = fs::read_to_string(path).map_err(|source| ConfError::Read { path: path.to_owned(), source })?;
    let mut sequences = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let sequence = parse_sequence(trimmed)
            .map_err(|e| ConfError::at_line(index + 1, format!("invalid one-time sequence: {e}")).in_file(path))?;
        sequences.push((index + 1, sequence));
    }
    Ok(sequences)
}

/// Marks the sequence on `line` (1-based) of a one-time file as used, crash-safely: the file is rewritten
/// to a temp file with that line commented out and renamed into place, so a crash leaves either the old
/// or the new file, and a used sequence can never be used twice.
pub fn consume_one_time(path: &Path, line: usize) -> std::io::Result<()> {
    let text = fs::read_to_string(path)?;
    let mut out = String::with_capacity(text.len() + 2);
    for (index, current) in text.split_inclusive('\n').enumerate() {
        if index + 1 == line {
            out.push('#');
        }
        out.push_str(current);
    }
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut temp, out.as_bytes())?;
    temp.as_file().sync_all()?;
    if let Ok(meta) = fs::metadata(path) {
        let _ = fs::set_permissions(temp.path(), meta.permissions());
    }
    temp.persist(path).map_err(|e| e.error)?;
    if let Ok(handle) = fs::File::open(dir) {
        let _ = handle.sync_all();
    }
    Ok(())
}

/// A `--check` warning: legal, but weak or surprising.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub line: usize,
    pub door: String,
    pub message: String,
}

/// Weak doors: sequences a port scan completes, very short ones, no explicit timeout, no command.
pub fn lint(config: &ServerConfig, conf: &KnockdConf) -> Vec<Warning> {
    let mut warnings = Vec::new();
    for door in &config.doors {
        let mut warn = |message: String| {
            warnings.push(Warning { line: door.line, door: door.name.clone(), message });
        };
        if let SequenceSource::Fixed(sequence) = &door.sequence {
            let hits = sequence.hits();
            if hits.len() < 3 {
                warn(format!("only {} hit(s): a short sequence is easy to guess; use 3 or more", hits.len()));
            }
            if is_scan_completable(hits) {
                warn(
                    "the ports rise (or fall) with one protocol: a sequential port scan from one address completes \
                     this sequence; mix the order (e.g. 8000,7000,9000) or protocols"
                        .to_owned(),
                );
            }
        }
        let section = conf.doors.iter().find(|s| s.name == door.name);
        if section.is_some_and(|s| s.directive("Seq_Timeout").is_none()) {
            warn(format!(
                "no Seq_Timeout: the default is {DEFAULT_SEQ_TIMEOUT_SECS} s; set it explicitly, as short as your clients allow"
            ));
        }
        if door.start_command.is_none() && door.start_command_6.is_none() {
            warn("no Start_Command: a completed knock does nothing".to_owned());
        }
        if door.tcp_flags.is_none()
            && matches!(&door.sequence, SequenceSource::Fixed(s) if s.hits().iter().any(|h| h.protocol == Protocol::Tcp))
        {
            warn(
                "no TCPFlags: any TCP segment counts as a hit (RSTs and ACKs included); TCPFlags = syn is usual"
                    .to_owned(),
            );
        }
    }
    warnings
}

/// A sequence whose ports strictly rise (or fall) with a single protocol is hit, in order, by a scan.
fn is_scan_completable(hits: &[Hit]) -> bool {
    if hits.len() < 2 || hits.iter().any(|h| h.protocol != hits[0].protocol) {
        return false;
    }
    let rising = hits.windows(2).all(|w| w[0].port < w[1].port);
    let falling = hits.windows(2).all(|w| w[0].port > w[1].port);
    rising || falling
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ServerConfig, ConfError> {
        let conf = knockd_conf::parse(text)?;
        from_conf(&conf, Path::new("/etc/knockd.conf"))
    }

    #[test]
    fn debian_defaults_aliases_and_ipv6_commands() {
        let config = parse(
            "[options]\n UseSyslog\n Interface = eth1\n[openSSH]\n sequence = 7000,8000,9000\n command = /bin/true %IP%\n \
             tcpflags = syn\n[v6]\n sequence = 1:udp\n Start_Command = a\n Start_Command_6 = b\n Stop_Command = c\n \
             Timeout = 7\n cmd_timeout = 3\n target = 2001:db8::2\n",
        )
        .expect("valid");
        assert!(config.options.use_syslog);
        assert_eq!(config.options.interface.as_deref(), Some("eth1"));
        let ssh = &config.doors[0];
        assert_eq!(ssh.seq_timeout, Duration::from_secs(25), "knockd's default");
        assert_eq!(ssh.cmd_timeout, Duration::from_secs(10));
        assert_eq!(ssh.start_command.as_deref(), Some("/bin/true %IP%"), "Command is Start_Command");
        let v6 = &config.doors[1];
        assert_eq!((v6.seq_timeout, v6.cmd_timeout), (Duration::from_secs(7), Duration::from_secs(3)));
        assert_eq!(v6.commands(true), (Some("b"), Some("c")), "*_6 first, IPv4 command as fallback");
        assert_eq!(v6.commands(false), (Some("a"), Some("c")));
        assert_eq!(v6.target, Some("2001:db8::2".parse().expect("ip")));
    }

    #[test]
    fn errors_name_the_line_and_key() {
        let e = parse("[d]\n sequence = 7000\n target = not-an-ip\n").expect_err("target").to_string();
        assert!(e.contains("line 3") && e.contains("target") && e.contains("IP address"), "{e}");
        let e = parse("[d]\n command = x\n").expect_err("no sequence").to_string();
        assert!(e.contains("line 1") && e.contains("no Sequence"), "{e}");
        let e = parse("[d]\n sequence = 7000\n seq_timeout = soon\n").expect_err("timeout").to_string();
        assert!(e.contains("line 3"), "{e}");
        let e = parse("[d]\n sequence = 7000\n bogus = 1\n").expect_err("unknown key").to_string();
        assert!(e.contains("line 3") && e.contains("bogus"), "{e}");
        assert!(parse("[options]\n LogFile = /x\n").expect_err("no doors").to_string().contains("no doors"));
    }

    #[test]
    fn an_empty_command_disables_it() {
        let config = parse("[d]\n sequence = 7000\n start_command =\n").expect("valid");
        assert_eq!(config.doors[0].start_command, None);
    }

    #[test]
    fn one_time_files_are_read_and_consumed_crash_safely() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("otp");
        fs::write(&file, "# used list\n 7000,8000\n\n 9000:udp,9100\n").expect("write");
        let config = parse(&format!("[d]\n one_time_sequences = {}\n", file.display())).expect("valid");
        assert_eq!(config.doors[0].sequence, SequenceSource::OneTime(file.clone()));
        let sequences = read_one_time(&file).expect("read");
        assert_eq!(sequences.iter().map(|(l, _)| *l).collect::<Vec<_>>(), [2, 4]);
        consume_one_time(&file, 2).expect("consume");
        assert_eq!(fs::read_to_string(&file).expect("read"), "# used list\n# 7000,8000\n\n 9000:udp,9100\n");
        assert_eq!(read_one_time(&file).expect("read").len(), 1);
        fs::write(&file, " 7000,99999\n").expect("write");
        let e = read_one_time(&file).expect_err("bad").to_string();
        assert!(e.contains("otp:1"), "{e}");
    }

    #[test]
    fn lint_flags_weak_doors() {
        let text = "[scan]\n sequence = 7000,8000,9000\n seq_timeout = 5\n tcpflags = syn\n command = x\n\
                    [short]\n sequence = 7000\n\
                    [good]\n sequence = 8000,7000:udp,9000\n seq_timeout = 5\n tcpflags = syn\n command = x\n";
        let conf = knockd_conf::parse(text).expect("parse");
        let config = from_conf(&conf, Path::new("k.conf")).expect("valid");
        let warnings = lint(&config, &conf);
        let of =
            |door: &str| warnings.iter().filter(|w| w.door == door).map(|w| w.message.as_str()).collect::<Vec<_>>();
        assert!(of("scan").iter().any(|m| m.contains("port scan")), "{warnings:?}");
        let short = of("short");
        assert!(short.iter().any(|m| m.contains("1 hit")) && short.iter().any(|m| m.contains("Seq_Timeout")));
        assert!(short.iter().any(|m| m.contains("Start_Command")) && short.iter().any(|m| m.contains("TCPFlags")));
        assert!(of("good").is_empty(), "{warnings:?}");
    }
}
