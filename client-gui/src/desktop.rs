//! Handing things to the desktop: open the profiles folder in the file manager, and run a connect
//! command (by default `ssh -4 HOST`) in the user's terminal.
//!
//! Per OS:
//! - Linux/BSD: the folder with `xdg-open`; the terminal is `$TERMINAL`, else Debian's
//!   `x-terminal-emulator`, else the first of gnome-terminal, konsole, xfce4-terminal, xterm found,
//!   run as `TERMINAL -e sh -c COMMAND`.
//! - macOS: `open DIR`; the command runs in Terminal.app through `osascript`.
//! - Windows: `explorer DIR`; the command runs in a new console with `cmd /c start cmd /k COMMAND`. The
//!   outer `cmd` is a console program: started from this GUI-subsystem app it would get a console window
//!   of its own, flashing up until `start` returns, so it is created with `CREATE_NO_WINDOW`; `start` then
//!   opens the one window the user sees (the inner `cmd`, which `start` gives a new console).
//!
//! Processes are spawned and not waited for on the UI thread: a thread waits for each, so none is left
//! defunct.

use std::net::IpAddr;
use std::path::Path;
use std::process::{Command, Stdio};

/// The default connect command for a host that opened at `address`: `ssh` with the family that
/// opened, so ssh cannot try the other one (which the server did not open).
pub fn default_connect_command(host: &str, address: Option<IpAddr>) -> String {
    match address {
        Some(IpAddr::V4(_)) => format!("ssh -4 {host}"),
        Some(IpAddr::V6(_)) => format!("ssh -6 {host}"),
        None => format!("ssh {host}"),
    }
}

/// Why a folder or a command could not be handed to the desktop.
#[derive(Debug, thiserror::Error)]
pub enum DesktopError {
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the connect command is empty")]
    EmptyCommand,
    #[cfg(not(any(target_os = "macos", windows)))]
    #[error("no terminal found: set $TERMINAL, or install xterm")]
    NoTerminal,
}

fn spawn(mut command: Command) -> Result<(), DesktopError> {
    let mut child =
        command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().map_err(|source| {
            DesktopError::Spawn { program: command.get_program().to_string_lossy().into_owned(), source }
        })?;
    // Reaped when it ends (by a thread that only waits), so each Connect does not leave a defunct
    // process behind until the app exits.
    std::thread::Builder::new()
        .name("reap-child".into())
        .spawn(move || {
            let _ = child.wait();
        })
        .map(drop)
        .map_err(|source| DesktopError::Spawn { program: "a thread to wait for it".into(), source })
}

pub fn open_folder(dir: &Path) -> Result<(), DesktopError> {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    let mut command = Command::new(opener);
    command.arg(dir);
    spawn(command)
}

/// Runs `line` (a shell command line) in a new terminal window.
pub fn run_in_terminal(line: &str) -> Result<(), DesktopError> {
    if line.trim().is_empty() {
        return Err(DesktopError::EmptyCommand);
    }
    #[cfg(target_os = "macos")]
    {
        let script = format!(
            "tell application \"Terminal\" to do script \"{}\"",
            line.replace('\\', "\\\\").replace('"', "\\\"")
        );
        let mut command = Command::new("osascript");
        command.args(["-e", &script]);
        spawn(command)
    }
    #[cfg(windows)]
    {
        use std::os::windows::process::CommandExt;
        let mut command = Command::new("cmd");
        command.args(["/c", "start", "cmd", "/k", line]).creation_flags(CREATE_NO_WINDOW);
        spawn(command)
    }
    #[cfg(not(any(target_os = "macos", windows)))]
    {
        let terminal = std::env::var("TERMINAL")
            .ok()
            .filter(|t| !t.trim().is_empty())
            .or_else(|| {
                ["x-terminal-emulator", "gnome-terminal", "konsole", "xfce4-terminal", "xterm"]
                    .into_iter()
                    .find(|t| on_path(t))
                    .map(str::to_owned)
            })
            .ok_or(DesktopError::NoTerminal)?;
        let mut command = Command::new(&terminal);
        // Keep the window open after the command ends, so its last words can be read.
        command.args(["-e", "sh", "-c", &format!("{line}; echo; echo \"[exited $?] press Enter\"; read _")]);
        spawn(command)
    }
}

/// "The process is a console application that is being run without a console window": Microsoft's
/// Process Creation Flags page (learn.microsoft.com/windows/win32/procthread/process-creation-flags).
#[cfg(windows)]
const CREATE_NO_WINDOW: u32 = 0x0800_0000;

#[cfg(not(any(target_os = "macos", windows)))]
fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connect_command_uses_the_family_that_opened() {
        assert_eq!(default_connect_command("h", Some("192.0.2.1".parse().expect("ip"))), "ssh -4 h");
        assert_eq!(default_connect_command("h", Some("2001:db8::1".parse().expect("ip"))), "ssh -6 h");
        assert_eq!(default_connect_command("h", None), "ssh h");
    }

    /// Issue 24 item 12: a finished child (the terminal of a Connect) is reaped, not left defunct.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_finished_child_is_not_left_defunct() {
        let me = std::process::id().to_string();
        let defunct_children = || {
            std::fs::read_dir("/proc")
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
                .filter(|stat| {
                    // "PID (COMM) STATE PPID ...": the fields after the command's closing parenthesis.
                    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
                    let mut fields = rest.split(' ');
                    fields.next() == Some("Z") && fields.next() == Some(me.as_str())
                })
                .count()
        };
        for _ in 0..3 {
            spawn(Command::new("true")).expect("spawn");
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        std::thread::sleep(std::time::Duration::from_millis(200));
        while defunct_children() > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert_eq!(defunct_children(), 0, "the children were reaped");
    }
}
