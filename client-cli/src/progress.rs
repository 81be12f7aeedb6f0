//! Live progress of profile knocks: a spinner line per host on a terminal, nothing otherwise (CI logs
//! stay clean), plus knock(1)-style `hitting ...` lines with `--verbose`.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::time::Duration;

use client_core::KnockEvent;
use client_core::ProfileEvent;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    bars: Option<MultiProgress>,
    verbose: bool,
    /// Verbose lines go to stderr when stdout carries a JSON document.
    json: bool,
    quiet: bool,
}

impl Progress {
    /// Bars only when stdout is a terminal and the user wants output.
    pub fn new(quiet: bool, json: bool, verbose: bool) -> Progress {
        let show = !quiet && !json && std::io::stdout().is_terminal();
        Progress {
            bars: show.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stdout())),
            verbose: verbose && !quiet,
            json,
            quiet,
        }
    }

    /// A line for one host. Ports of secret sequences are masked by the engine's own hit type.
    pub fn host(&self, name: &str) -> HostProgress {
        let bar = self.bars.as_ref().map(|bars| {
            let bar = bars.add(ProgressBar::new_spinner());
            let style = ProgressStyle::with_template("{spinner} {prefix:.bold} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            bar.set_style(style);
            bar.set_prefix(name.to_owned());
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        HostProgress {
            name: name.to_owned(),
            bar,
            verbose: self.verbose,
            json: self.json,
            quiet: self.quiet,
            address: None,
        }
    }
}

/// One host's line; fed with [`ProfileEvent`]s.
pub struct HostProgress {
    name: String,
    bar: Option<ProgressBar>,
    verbose: bool,
    json: bool,
    quiet: bool,
    address: Option<SocketAddr>,
}

impl HostProgress {
    pub fn event(&mut self, event: &ProfileEvent) {
        let message = match event {
            ProfileEvent::AttemptStarted { attempt, attempts } if *attempts > 1 => {
                format!("attempt {attempt}/{attempts}: knocking")
            }
            ProfileEvent::AttemptStarted { .. } => "knocking".to_owned(),
            ProfileEvent::Knock(KnockEvent::Resolved { address, .. }) => {
                self.address = Some(*address);
                format!("resolved {}", address.ip())
            }
            ProfileEvent::Knock(KnockEvent::HitSent { index, hit, .. }) => {
                if self.verbose {
                    let line = format!("{}: hitting {}", self.name, hit.target(self.address.map(|a| a.ip())));
                    self.println(&line);
                }
                format!("hit {} sent", index + 1)
            }
            ProfileEvent::Knock(KnockEvent::HitFailed { index, error, .. }) => {
                format!("hit {} failed: {error}", index + 1)
            }
            ProfileEvent::VerifyStarted { address, timeout } => {
                format!("waiting for {address} to answer (up to {:.1} s)", timeout.as_secs_f64())
            }
            ProfileEvent::VerifyFinished(outcome) if outcome.open => "open".to_owned(),
            ProfileEvent::VerifyFinished(_) => "did not answer".to_owned(),
            ProfileEvent::WaitingForWindow { seconds } => {
                let line = format!(
                    "{}: this window's sequence was already used; waiting {seconds} s for the next window",
                    self.name
                );
                if self.bar.is_none() && !self.quiet {
                    errln!("{line}");
                }
                format!("waiting {seconds} s for the next window")
            }
            ProfileEvent::BackingOff { pause, .. } => {
                format!("retrying in {:.1} s", pause.as_secs_f64())
            }
        };
        if let Some(bar) = &self.bar {
            bar.set_message(message);
        }
    }

    fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None if self.json => errln!("{line}"),
            None => outln!("{line}"),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
