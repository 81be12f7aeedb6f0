//! The detail view of the selected profile, in a scroll area (reachable in a 640x400 window): the
//! result banner ("is my door open?"), host and resolved address, only the settings that matter for
//! its kind, the actions, connecting after an open, and a knock's live progress as a stepper.

use std::time::Instant;

use client_core::{Action, Profile, ProfileKind, SequenceSource};
use client_core::{Protocol, TcpFlagSpec};
use egui::{Color32, RichText};

use crate::app::{AppState, Command, HitState, LastResult, Notice, Phase, Resolution, Run};
use crate::ui::Commands;
use crate::ui::icons;

/// Draws the selected profile; true when it shows a rotating window's countdown.
pub fn draw(state: &AppState, ui: &mut egui::Ui, out: &mut Commands) -> bool {
    let Some(name) = state.list.selected.clone() else {
        ui.centered_and_justified(|ui| ui.label("Select a host, or press Ctrl+N for a new one."));
        return false;
    };
    let Some(entry) = state.list.entry(&name).cloned() else { return false };
    let countdown = entry.profile.as_ref().is_ok_and(|p| matches!(p.kind, ProfileKind::Rotating(_)));
    ui.add(egui::Label::new(RichText::new(&name).heading()).truncate()).on_hover_text(&name);
    let profile = match entry.profile {
        Ok(profile) => profile,
        Err(err) => {
            egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
                ui.add(egui::Label::new(RichText::new(err.to_string()).color(ui.visuals().error_fg_color)).wrap());
                ui.label("Fix the file in a text editor; the app will pick up the change.");
            });
            return false;
        }
    };
    // A new profile, a restart or a changed host never leaves a stale or missing address.
    if state.needs_resolution(&name) {
        out.push(Command::Resolve { profile: name.clone() });
    }
    // The actions are pinned above the scroll area: Knock and Edit are on screen at any window size,
    // whatever the details below say.
    buttons(state, &name, &profile, ui, out);
    ui.add_space(4.0);
    egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
        banner(state, &name, ui, out);
        facts(state, &name, &profile, ui, out);
        if let Some(run) = state.runs.knocks.get(&name) {
            ui.separator();
            progress(state, &name, run, ui, out);
        }
        if state.runs.diagnosis.as_ref().is_some_and(|d| d.name == name) {
            ui.separator();
            diagnosis(state, ui, out);
        }
        ui.separator();
        connect(state, &name, &profile, ui, out);
    });
    countdown
}

/// The Diagnose panel: while it runs, a spinner and Cancel; then each check (verdict, what was seen,
/// what to do) and the conclusion, as `knock-cli doctor` prints them.
fn diagnosis(state: &AppState, ui: &mut egui::Ui, out: &mut Commands) {
    let Some(run) = &state.runs.diagnosis else { return };
    ui.horizontal(|ui| {
        ui.label(RichText::new(format!("Diagnose {}", run.name)).strong());
        if !run.is_running() && ui.small_button("Close").clicked() {
            out.push(Command::CloseDiagnosis);
        }
    });
    match &run.result {
        None => {
            ui.horizontal(|ui| {
                ui.spinner();
                let words = ui.label(if run.cancelled {
                    "cancelling…".to_owned()
                } else {
                    format!("checking… {:.0} s", run.started.elapsed().as_secs_f64())
                });
                ui.ctx().accesskit_node_builder(words.id, |node| node.set_live(egui::accesskit::Live::Polite));
                if !run.cancelled && ui.button("Cancel").on_hover_text("Stop the checks").clicked() {
                    out.push(Command::CancelDiagnosis);
                }
            });
        }
        Some(_) if run.cancelled => {
            icons::label(ui, icons::CANCELLED, "Diagnose cancelled", RichText::weak);
        }
        Some(Err(err)) => {
            ui.add(
                egui::Label::new(RichText::new(format!("Cannot diagnose: {err}")).color(ui.visuals().error_fg_color))
                    .wrap(),
            );
        }
        Some(Ok(found)) => {
            let green = green(ui);
            egui::Grid::new("diagnosis").num_columns(3).spacing([10.0, 4.0]).striped(true).show(ui, |ui| {
                for check in &found.checks {
                    let (icon, color) = match check.status {
                        client_core::CheckStatus::Ok => (icons::OPEN, green),
                        client_core::CheckStatus::Warn => (icons::WARNING, ui.visuals().warn_fg_color),
                        client_core::CheckStatus::Fail => (icons::FAILED, ui.visuals().error_fg_color),
                    };
                    icons::label(ui, icon, check.status.as_str(), |t| t.color(color));
                    ui.label(RichText::new(check.name).strong());
                    ui.vertical(|ui| {
                        ui.add(egui::Label::new(&check.detail).wrap());
                        if !check.advice.is_empty() {
                            ui.add(
                                egui::Label::new(RichText::new(format!("To do: {}", check.advice)).italics()).wrap(),
                            );
                        }
                    });
                    ui.end_row();
                }
            });
            let opened = found.conclusion.door_opened();
            let color = if opened { green } else { ui.visuals().error_fg_color };
            let conclusion = ui.label(
                RichText::new(format!("Conclusion: {}", conclusion_words(found.conclusion))).strong().color(color),
            );
            ui.ctx().accesskit_node_builder(conclusion.id, |node| node.set_live(egui::accesskit::Live::Polite));
            if let Some(advice) = found.advice() {
                ui.add(egui::Label::new(format!("What to do: {advice}")).wrap());
            }
        }
    }
}

/// A rotating profile's current window: the seconds it has left, and its ports only when revealed.
fn rotating_window(state: &AppState, name: &str, ui: &mut egui::Ui, out: &mut Commands) {
    let Some(view) = super::unix_now().and_then(|now| state.window_view(name, now)) else { return };
    ui.label("Window");
    icons::label(ui, icons::CLOCK, &format!("{} s left in this window", view.seconds_left), |t| t);
    ui.end_row();
    ui.label("Ports");
    ui.horizontal_wrapped(|ui| {
        match &view.ports {
            Some(ports) => {
                ui.label(RichText::new(ports).monospace());
                if ui.button("Hide").clicked() {
                    out.push(Command::Hide { profile: name.to_owned() });
                }
            }
            None => {
                ui.label(RichText::new("•••• (hidden)").monospace().weak());
                if ui
                    .button("Reveal")
                    .on_hover_text("Show this window's ports (for knock(1) or hping3); they change every window")
                    .clicked()
                {
                    out.push(Command::Reveal { profile: name.to_owned() });
                }
            }
        }
        if let Some(err) = state.revealed.errors.get(name) {
            ui.add(egui::Label::new(RichText::new(err.to_string()).color(ui.visuals().error_fg_color)).wrap());
        }
    });
    ui.end_row();
}

/// The Diagnose conclusion in words (the app speaks in words, not in knock-cli's identifiers).
pub fn conclusion_words(conclusion: client_core::Conclusion) -> &'static str {
    use client_core::Conclusion as C;
    match conclusion {
        C::Opened => "the door opened",
        C::AlreadyOpen => "the door was already open",
        C::NotActedOn => "the server did not act on the knock",
        C::NotListening => "the door opened, but nothing listens on the port",
        C::RefusedBeforeAndAfter => "the port refused before and after the knock",
        C::OpenedLate => "the door opened, but only after the wait",
        C::ServerUnreachable => "the server cannot be reached (no route)",
        C::Unresolvable => "the host name does not resolve",
        C::NoAddressInFamily => "the host name has no address of the profile's family",
        C::WrongFamily => "the door opens for the other address family: set the profile's family",
        C::NeedsRawPrivilege => "this profile needs raw sockets",
        C::NatForSpa => "a NAT changes the address the server sees",
        C::KnockFailed => "the knock could not be sent",
        C::Unverified => "sent; no verify port to tell whether it opened",
    }
}

/// A locked keyring, where a profile's keys live: said as such (not "no keys"), with Unlock. True when
/// it is locked.
fn keyring_locked(state: &AppState, ui: &mut egui::Ui, out: &mut Commands) -> bool {
    if !matches!(state.system.keyring, Some(client_core::KeyringAvailability::Locked)) {
        return false;
    }
    ui.add(
        egui::Label::new(
            RichText::new("the keyring is locked: unlock it to use this profile's keys")
                .color(ui.visuals().warn_fg_color),
        )
        .wrap(),
    );
    if ui.button("Unlock keyring").on_hover_text("The desktop asks for the keyring's password").clicked() {
        out.push(Command::UnlockKeyring);
    }
    true
}

/// "WORDS, 5 min ago", or just the age for a result restored after a restart (saved without words).
fn with_age(words: &str, at: std::time::SystemTime) -> String {
    if words.is_empty() { super::ago(at) } else { format!("{words}, {}", super::ago(at)) }
}

fn green(ui: &egui::Ui) -> Color32 {
    if ui.visuals().dark_mode { Color32::from_rgb(0x4c, 0xc3, 0x6a) } else { Color32::from_rgb(0x1a, 0x7f, 0x37) }
}

/// The answer to "is my door open?" in large type, with the shared wording of the outcome. A cancelled
/// run shows as its own neutral line above the last result, which it does not replace.
fn banner(state: &AppState, name: &str, ui: &mut egui::Ui, out: &mut Commands) {
    if state.runs.knocks.get(name).is_some_and(|r| !r.is_running() && r.cancelled) {
        icons::label(ui, icons::CANCELLED, "Cancelled: nothing more was sent", |t| t.weak().size(15.0));
    }
    let (icon, title, detail, color) = match state.runs.last_result(name) {
        LastResult::Never | LastResult::Cancelled { .. } => return,
        LastResult::Opened { at, detail } => (icons::OPEN, "Door open", with_age(detail, *at), green(ui)),
        LastResult::AlreadyOpen { at, .. } => {
            let detail = format!("the door answered before knocking, so nothing was sent, {}", super::ago(*at));
            (icons::OPEN, "Already open", detail, green(ui))
        }
        LastResult::Sent { at, detail } => (icons::SENT, "Knocked", with_age(detail, *at), ui.visuals().text_color()),
        LastResult::Closed { at, detail } => {
            (icons::CANCELLED, "Closed", with_age(detail, *at), ui.visuals().text_color())
        }
        LastResult::StillOpen { at, why } => {
            (icons::WARNING, "Still open", with_age(why, *at), ui.visuals().warn_fg_color)
        }
        LastResult::Unreachable { at, why } => {
            (icons::WARNING, "Unreachable", with_age(why, *at), ui.visuals().error_fg_color)
        }
        LastResult::NotOpened { at, why } => {
            (icons::FAILED, "Not opened", with_age(why, *at), ui.visuals().error_fg_color)
        }
        LastResult::Failed { at, why } => (icons::FAILED, "Failed", with_age(why, *at), ui.visuals().error_fg_color),
    };
    egui::Frame::new()
        .inner_margin(egui::Margin::same(10))
        .corner_radius(6.0)
        .stroke(egui::Stroke::new(2.0, color))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.horizontal(|ui| {
                let glyph = ui.add(egui::Label::new(RichText::new(icon).size(26.0).color(color)).selectable(false));
                icons::decoration(ui, &glyph);
                ui.vertical(|ui| {
                    let title = ui.label(RichText::new(title).size(20.0).strong().color(color));
                    let words = ui.add(egui::Label::new(detail).wrap());
                    // Screen readers announce a new result without the user moving there.
                    for id in [title.id, words.id] {
                        ui.ctx().accesskit_node_builder(id, |node| node.set_live(egui::accesskit::Live::Polite));
                    }
                    let running = state.runs.is_running(name);
                    if matches!(state.runs.last_result(name), LastResult::AlreadyOpen { .. })
                        && ui
                            .add_enabled(!running, egui::Button::new("Knock anyway"))
                            .on_hover_text("Send the open sequence although the door already answers")
                            .clicked()
                    {
                        out.push(Command::ForceKnock { profile: name.to_owned() });
                    }
                });
            });
        });
    ui.add_space(6.0);
}

fn facts(state: &AppState, name: &str, profile: &Profile, ui: &mut egui::Ui, out: &mut Commands) {
    egui::Grid::new("facts").num_columns(2).spacing([16.0, 6.0]).show(ui, |ui| {
        ui.label("Host");
        ui.add(egui::Label::new(&profile.host).wrap());
        ui.end_row();
        ui.label("Address");
        // Wrapped: a long lookup error never pushes Refresh out of the window.
        ui.horizontal_wrapped(|ui| {
            match state.resolution.get(name) {
                None | Some(Resolution::Pending { .. }) => {
                    ui.spinner();
                    ui.label("resolving…");
                }
                Some(Resolution::Done { result: Ok(address), .. }) => {
                    ui.label(format!("{} ({})", address.ip(), profile.family));
                }
                Some(Resolution::Done { result: Err(err), .. }) => {
                    ui.add(egui::Label::new(RichText::new(err.to_string()).color(ui.visuals().warn_fg_color)).wrap());
                }
            }
            if ui.small_button("Refresh").on_hover_text("Look the host up again").clicked() {
                out.push(Command::RefreshAddress { profile: name.to_owned() });
            }
        });
        ui.end_row();
        match &profile.kind {
            ProfileKind::Sequence(knock) => {
                ui.label("Open");
                sequence_chips(&knock.open, &knock.tcp_flags, ui);
                ui.end_row();
                if let Some(close) = &knock.close {
                    ui.label("Close");
                    sequence_chips(close, &knock.tcp_flags, ui);
                    ui.end_row();
                }
                ui.label("Method");
                ui.vertical(|ui| {
                    let delay = if knock.delay_ms > 0 {
                        format!(", {} ms between hits", knock.delay_ms)
                    } else {
                        String::new()
                    };
                    ui.add(egui::Label::new(format!("{}{delay}", knock.method)).wrap());
                    if let Some(step) = state.system.raw_needed_but_denied(profile) {
                        ui.add(
                            egui::Label::new(
                                RichText::new(format!("This profile needs raw sockets: {step}"))
                                    .color(ui.visuals().error_fg_color),
                            )
                            .wrap(),
                        );
                    }
                });
                ui.end_row();
            }
            ProfileKind::Rotating(knock) => {
                let rotation = &knock.rotation;
                ui.label("Rotating");
                ui.add(
                    egui::Label::new(format!(
                        "door {}: {} hits from {}-{}, a new sequence every {} s",
                        rotation.door, rotation.length, rotation.range.0, rotation.range.1, rotation.step
                    ))
                    .wrap(),
                );
                ui.end_row();
                if matches!(state.system.keyring, Some(client_core::KeyringAvailability::Locked)) {
                    ui.label("Key");
                    ui.horizontal_wrapped(|ui| keyring_locked(state, ui, out));
                    ui.end_row();
                }
                rotating_window(state, name, ui, out);
            }
            ProfileKind::Spa(spa) => {
                ui.label("SPA");
                ui.add(
                    egui::Label::new(format!(
                        "fwknop packet to UDP {} asking for {} (allow {})",
                        spa.port, spa.access, spa.allow_ip
                    ))
                    .wrap(),
                );
                ui.end_row();
                ui.label("Keys");
                ui.horizontal_wrapped(|ui| {
                    if keyring_locked(state, ui, out) {
                        return;
                    }
                    ui.add(egui::Label::new("in the OS keyring, or the KNOCK_SPA_* variables").wrap());
                    if ui.button("Add keys…").on_hover_text("Type, paste or generate this profile's keys").clicked() {
                        out.push(Command::Edit { profile: name.to_owned() });
                    }
                });
                ui.end_row();
            }
        }
        if let Some(v) = profile.verify {
            ui.label("Verify");
            ui.add(
                egui::Label::new(format!(
                    "TCP port {} answers within {:.1} s; {}, backoff {:.1} s",
                    v.port,
                    v.timeout_ms as f64 / 1000.0,
                    client_core::plural(v.attempts.get() as usize, "attempt"),
                    v.backoff_ms as f64 / 1000.0
                ))
                .wrap(),
            );
            ui.end_row();
        }
        if !profile.tags.is_empty() {
            ui.label("Tags");
            ui.add(
                egui::Label::new(profile.tags.iter().map(|t| format!("#{t}")).collect::<Vec<_>>().join("  ")).wrap(),
            );
            ui.end_row();
        }
        if !profile.notes.is_empty() {
            ui.label("Notes");
            ui.add(egui::Label::new(&profile.notes).wrap());
            ui.end_row();
        }
    });
}

fn buttons(state: &AppState, name: &str, profile: &Profile, ui: &mut egui::Ui, out: &mut Commands) {
    let running = state.runs.is_running(name);
    let profile_name = || name.to_owned();
    ui.horizontal_wrapped(|ui| {
        let knock = egui::Button::new(RichText::new("Knock (open)").strong()).min_size(egui::vec2(120.0, 30.0));
        let knock_hint = if profile.verify.is_some() {
            "Checks first whether the door already answers; then nothing is sent"
        } else {
            "Send the open sequence"
        };
        if ui.add_enabled(!running, knock).on_hover_text(knock_hint).clicked() {
            out.push(Command::Knock { profile: profile_name(), action: Action::Open });
        }
        if profile.verify.is_some()
            && ui
                .add_enabled(!running, egui::Button::new("Force knock"))
                .on_hover_text("Send the open sequence even if the door already answers")
                .clicked()
        {
            out.push(Command::ForceKnock { profile: profile_name() });
        }
        if profile.sequence().is_some_and(|k| k.close.is_some())
            && ui.add_enabled(!running, egui::Button::new("Close")).on_hover_text("Send the close sequence").clicked()
        {
            out.push(Command::Knock { profile: profile_name(), action: Action::Close });
        }
        let diagnosing = state.runs.diagnosing();
        if ui
            .add_enabled(!running && !diagnosing, egui::Button::new("Diagnose"))
            .on_hover_text(
                "Did it open, and if not, why? Checks the host, the route and the port (knocks at most once)",
            )
            .clicked()
        {
            out.push(Command::Diagnose { profile: profile_name() });
        }
        if ui.button("Edit").clicked() {
            out.push(Command::Edit { profile: profile_name() });
        }
        if ui.button("Duplicate").clicked() {
            out.push(Command::Duplicate { profile: profile_name() });
        }
        if ui.button("Delete").clicked() {
            out.push(Command::RequestDelete { profile: profile_name() });
        }
    });
}

/// Connecting after an open: the command (editable, remembered per profile), run in a terminal, and
/// copies of it and of the host.
fn connect(state: &AppState, name: &str, profile: &Profile, ui: &mut egui::Ui, out: &mut Commands) {
    ui.label(RichText::new("Connect").strong());
    // Connecting makes sense once the door opened (or was knocked, with nothing to verify): before, the
    // connection would be refused or hang.
    let door_opened = matches!(
        state.runs.last_result(name),
        LastResult::Opened { .. } | LastResult::AlreadyOpen { .. } | LastResult::Sent { .. }
    );
    if !door_opened {
        ui.label(RichText::new("Knock first: Connect is offered once the door opens.").weak());
        ui.horizontal_wrapped(|ui| copy_buttons(&state.connect_command(name), profile, ui, out));
        return;
    }
    ui.horizontal_wrapped(|ui| {
        let label = ui.label("User name");
        let mut user = state.settings.connect_users.get(name).cloned().unwrap_or_default();
        let field = ui
            .add(egui::TextEdit::singleline(&mut user).hint_text("as on the server").desired_width(140.0))
            .labelled_by(label.id);
        if field.changed() {
            out.push(Command::SetConnectUser { profile: name.to_owned(), user });
        }
    });
    let mut command = state.connect_command(name);
    ui.horizontal_wrapped(|ui| {
        let label = ui.label("Command");
        let edit = ui
            .add(
                egui::TextEdit::singleline(&mut command)
                    .font(egui::TextStyle::Monospace)
                    .desired_width((ui.available_width() - 16.0).clamp(80.0, 260.0)),
            )
            .labelled_by(label.id);
        if edit.changed() {
            out.push(Command::SetConnectCommand { profile: name.to_owned(), command: command.clone() });
        }
        if icons::button(ui, icons::TERMINAL, "Connect").on_hover_text("Run it in a terminal").clicked() {
            out.push(Command::Connect { command: command.clone() });
        }
        copy_buttons(&command, profile, ui, out);
    });
}

/// Copies of the ssh command and of the host (harmless before a knock, unlike connecting).
fn copy_buttons(command: &str, profile: &Profile, ui: &mut egui::Ui, out: &mut Commands) {
    if icons::button(ui, icons::COPY, "Copy ssh command").clicked() {
        ui.ctx().copy_text(command.to_owned());
        out.push(Command::Notify(Notice::Info(format!("copied \"{command}\""))));
    }
    if icons::button(ui, icons::COPY, "Copy host").clicked() {
        ui.ctx().copy_text(profile.host.clone());
        out.push(Command::Notify(Notice::Info(format!("copied \"{}\"", profile.host))));
    }
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
            chip(ui, RichText::new(text).monospace(), ui.visuals().widgets.noninteractive.bg_stroke.color);
        }
    });
}

fn chip(ui: &mut egui::Ui, text: RichText, stroke: Color32) -> egui::Response {
    egui::Frame::new()
        .inner_margin(egui::Margin::symmetric(6, 2))
        .corner_radius(8.0)
        .fill(ui.visuals().faint_bg_color)
        .stroke(egui::Stroke::new(1.0, stroke))
        // Not selectable: the chip's words are given to assistive tools without its glyph (speak_as).
        .show(ui, |ui| ui.add(egui::Label::new(text).selectable(false)))
        .inner
}

/// The run as steps: each hit (waiting / sent / failed, with the error on hover), then the verify step,
/// so a failed verify shows where it failed instead of a row of green hits.
fn progress(state: &AppState, name: &str, run: &Run, ui: &mut egui::Ui, out: &mut Commands) {
    ui.horizontal(|ui| {
        ui.label(RichText::new(format!("{} · attempt {} of {}", run.action, run.attempt, run.attempts)).strong());
        if let Some(address) = run.address {
            ui.label(format!("to {}", address.ip()));
        }
    });
    let green = green(ui);
    let last = state.runs.last_result(name).clone();
    ui.horizontal_wrapped(|ui| {
        for (i, (label, hit)) in run.hits.iter().enumerate() {
            if i > 0 {
                ui.label(RichText::new("›").weak());
            }
            let (icon, color) = match hit {
                HitState::Pending => (icons::PENDING, ui.visuals().weak_text_color()),
                HitState::NotSent => (icons::CANCELLED, ui.visuals().weak_text_color()),
                // Sent, but to a host that cannot be reached: not a green success.
                HitState::Sent if matches!(last, LastResult::Unreachable { .. }) => {
                    (icons::SENT, ui.visuals().weak_text_color())
                }
                HitState::Sent => (icons::OPEN, green),
                HitState::Failed(_) => (icons::FAILED, ui.visuals().error_fg_color),
            };
            let response = chip(ui, RichText::new(format!("{icon} {label}")).monospace().color(color), color);
            let state_words = match hit {
                HitState::Pending => "waiting",
                HitState::NotSent => "not sent",
                HitState::Sent => "sent",
                HitState::Failed(_) => "failed",
            };
            icons::speak_as(ui, &response, &format!("{label} {state_words}"));
            if let HitState::Failed(error) = hit {
                response.on_hover_text(error);
            }
        }
        if run.action == Action::Open && run.phase != Phase::Knocking {
            ui.label(RichText::new("›").weak());
            let (icon, color, text) = match (&run.phase, &last) {
                (Phase::Done, _) if run.cancelled => (icons::CANCELLED, ui.visuals().weak_text_color(), "cancelled"),
                (Phase::Done, LastResult::Opened { .. }) => (icons::OPEN, green, "port answered"),
                (Phase::Done, LastResult::Unreachable { .. }) => {
                    (icons::WARNING, ui.visuals().error_fg_color, "no route to the host")
                }
                (Phase::Done, LastResult::NotOpened { .. }) => {
                    (icons::FAILED, ui.visuals().error_fg_color, "no answer")
                }
                (Phase::Done, _) => return,
                _ => (icons::PENDING, ui.visuals().weak_text_color(), "verifying"),
            };
            let response = chip(ui, RichText::new(format!("{icon} {text}")).color(color), color);
            icons::speak_as(ui, &response, text);
        }
    });
    let now = Instant::now();
    let status = match &run.phase {
        Phase::Knocking => Some("knocking…".to_owned()),
        Phase::Verifying { address, since, timeout } => {
            let left = timeout.saturating_sub(now.duration_since(*since));
            Some(format!("waiting for {address} to answer… {:.1} s left", left.as_secs_f64()))
        }
        Phase::BackingOff { until, next_attempt } => {
            let left = until.saturating_duration_since(now);
            Some(format!("no answer; attempt {next_attempt} in {:.1} s", left.as_secs_f64()))
        }
        Phase::Done => None,
    };
    if let Some(status) = status {
        ui.horizontal(|ui| {
            ui.spinner();
            let words = ui.label(status);
            ui.ctx().accesskit_node_builder(words.id, |node| node.set_live(egui::accesskit::Live::Polite));
            if ui.button("Cancel").on_hover_text("Stop this knock; the last result is kept").clicked() {
                out.push(Command::CancelKnock { profile: name.to_owned() });
            }
        });
    }
}
