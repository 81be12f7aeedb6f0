//! The detail view of the selected profile: host and resolved address, sequences as chips, send method
//! and raw-socket permission, verify settings, the action buttons, and the live progress of a knock.

use std::time::Instant;

use client_core::profile::{Action, Profile, ProfileKind, SequenceSource};
use client_core::{Protocol, TcpFlagSpec};
use egui::{Color32, RichText};

use crate::app::{AppState, HitState, Phase, Resolution, Run};

pub fn draw(state: &mut AppState, ui: &mut egui::Ui) {
    let Some(name) = state.selected.clone() else {
        ui.centered_and_justified(|ui| ui.label("Select a host, or press Ctrl+N for a new one."));
        return;
    };
    let Some(entry) = state.entry(&name).cloned() else { return };
    let profile = match entry.profile {
        Ok(profile) => profile,
        Err(err) => {
            ui.heading(&name);
            ui.colored_label(ui.visuals().error_fg_color, err.to_string());
            ui.label("Fix the file in a text editor; the app will pick up the change.");
            return;
        }
    };
    ui.heading(&name);
    egui::Grid::new("facts").num_columns(2).spacing([16.0, 6.0]).show(ui, |ui| {
        ui.label("Host");
        ui.label(&profile.host);
        ui.end_row();
        ui.label("Address");
        ui.label(match state.resolution.get(&name) {
            None | Some(Resolution::Pending) => "resolving…".to_owned(),
            Some(Resolution::Done { result: Ok(address), .. }) => format!("{} ({})", address.ip(), profile.family),
            Some(Resolution::Done { result: Err(err), .. }) => err.clone(),
        });
        ui.end_row();
        match &profile.kind {
            ProfileKind::Sequence(knock) => {
                ui.label("Open");
                sequence_chips(&knock.open, &knock.tcp_flags, ui);
                ui.end_row();
                ui.label("Close");
                match &knock.close {
                    Some(close) => sequence_chips(close, &knock.tcp_flags, ui),
                    None => {
                        ui.label(RichText::new("none").weak());
                    }
                }
                ui.end_row();
                ui.label("Method");
                ui.vertical(|ui| {
                    ui.label(format!("{}, {} ms between hits", knock.method, knock.delay_ms));
                    if let Some(step) = state.raw_needed_but_denied(&profile) {
                        ui.colored_label(
                            ui.visuals().error_fg_color,
                            format!("This profile needs raw sockets: {step}"),
                        );
                    }
                });
            }
            ProfileKind::Rotating(knock) => {
                let rotation = &knock.rotation;
                ui.label("Rotating");
                ui.label(format!(
                    "door {}: {} hits from {}-{}, a new sequence every {} s (ports hidden)",
                    rotation.door, rotation.length, rotation.range.0, rotation.range.1, rotation.step
                ));
            }
            ProfileKind::Spa(spa) => {
                ui.label("SPA");
                ui.label(format!(
                    "fwknop single packet to UDP {} asking for {} (allow {}, digest {}, HMAC {})",
                    spa.port, spa.access, spa.allow_ip, spa.digest, spa.hmac
                ));
            }
        }
        ui.end_row();
        ui.label("Verify");
        ui.label(match profile.verify {
            Some(v) => format!(
                "TCP port {} within {:.1} s, {} attempt(s), backoff {:.1} s",
                v.port,
                v.timeout_ms as f64 / 1000.0,
                v.attempts,
                v.backoff_ms as f64 / 1000.0
            ),
            None => "no verification: success means every hit was sent".to_owned(),
        });
        ui.end_row();
        if !profile.tags.is_empty() {
            ui.label("Tags");
            ui.label(profile.tags.join(", "));
            ui.end_row();
        }
        if !profile.notes.is_empty() {
            ui.label("Notes");
            ui.label(&profile.notes);
            ui.end_row();
        }
    });
    ui.add_space(8.0);
    buttons(state, &name, &profile, ui);
    if let Some(run) = state.runs.get(&name).cloned() {
        ui.separator();
        progress(state, &name, &run, ui);
    }
}

fn buttons(state: &mut AppState, name: &str, profile: &Profile, ui: &mut egui::Ui) {
    let running = state.runs.get(name).is_some_and(Run::is_running);
    ui.horizontal(|ui| {
        if ui.add_enabled(!running, egui::Button::new("Knock (open)")).clicked() {
            state.knock(name, Action::Open);
        }
        if ui
            .add_enabled(!running && profile.sequence().is_some_and(|k| k.close.is_some()), egui::Button::new("Close"))
            .clicked()
        {
            state.knock(name, Action::Close);
        }
        if ui.button("Edit").clicked() {
            state.edit(name);
        }
        if ui.button("Duplicate").clicked() {
            state.duplicate(name);
        }
        if ui.button("Delete").clicked() {
            state.request_delete(name);
        }
    });
}

fn sequence_chips(source: &SequenceSource, flags: &TcpFlagSpec, ui: &mut egui::Ui) {
    let sequence = match source {
        SequenceSource::Inline(sequence) => sequence,
        SequenceSource::Env(var) => {
            ui.label(format!("from ${var} (secret, read at knock time)"));
            return;
        }
    };
    ui.horizontal_wrapped(|ui| {
        for hit in sequence.hits() {
            let text = match hit.protocol {
                Protocol::Tcp if flags.is_plain_syn() => format!("{} tcp", hit.port),
                Protocol::Tcp => format!("{} tcp [{}]", hit.port, flags.set),
                Protocol::Udp => format!("{} udp", hit.port),
            };
            egui::Frame::new()
                .inner_margin(egui::Margin::symmetric(6, 2))
                .corner_radius(8.0)
                .fill(ui.visuals().faint_bg_color)
                .stroke(ui.visuals().widgets.noninteractive.bg_stroke)
                .show(ui, |ui| ui.label(RichText::new(text).monospace()));
        }
    });
}

fn progress(state: &mut AppState, name: &str, run: &Run, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        ui.label(RichText::new(format!("{} · attempt {}/{}", run.action, run.attempt, run.attempts)).strong());
        if let Some(address) = run.address {
            ui.label(format!("to {}", address.ip()));
        }
    });
    ui.horizontal_wrapped(|ui| {
        for (label, hit) in &run.hits {
            let (state_text, color) = match hit {
                HitState::Pending => ("waiting", ui.visuals().weak_text_color()),
                HitState::Sent => ("sent", Color32::from_rgb(0x2e, 0xa0, 0x43)),
                HitState::Failed(_) => ("failed", ui.visuals().error_fg_color),
            };
            let response = ui.label(RichText::new(format!("{label} {state_text}")).monospace().color(color));
            if let HitState::Failed(error) = hit {
                response.on_hover_text(error);
            }
        }
    });
    let now = Instant::now();
    match &run.phase {
        Phase::Knocking => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("knocking…");
            });
        }
        Phase::Verifying { address, since, timeout } => {
            let left = timeout.saturating_sub(now.duration_since(*since));
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(format!("waiting for {address} to answer… {:.1} s left", left.as_secs_f64()));
            });
        }
        Phase::BackingOff { until, next_attempt } => {
            let left = until.saturating_duration_since(now);
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(format!("no answer; attempt {next_attempt} in {:.1} s", left.as_secs_f64()));
            });
        }
        Phase::Done => {
            super::host_list::result_line(state.last_result(name), ui);
        }
    }
    if run.is_running() && ui.button("Cancel").clicked() {
        state.cancel(name);
    }
}
