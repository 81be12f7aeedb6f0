//! Drawing. Each module draws one part of the window from the [`AppState`], which it only reads, and
//! turns clicks, typing and keyboard shortcuts into [`Command`]s that [`AppState::apply`] carries out
//! after the frame; no state lives here except what only matters to the view (focus requests, how long
//! a notice has shown).

mod detail;
mod dialogs;
mod editor_view;
mod history;
pub mod host_list;
pub mod icons;

use std::time::{Duration, Instant, SystemTime};

use egui::{Key, Modifiers, RichText};

use crate::app::{AppState, Command, Notice, QuitPolicy};
use client_core::KeyringAvailability as Availability;

/// The host panel is never narrower than this (nor saved narrower): rows stay one line.
pub use host_list::ROW_HEIGHT;

pub const HOSTS_MIN_WIDTH: f32 = 280.0;
/// Information notices go away by themselves after this; errors stay until dismissed.
const NOTICE_LIFETIME: Duration = Duration::from_secs(8);

/// View-only state: one-shot focus requests and the notice's age.
#[derive(Debug, Default)]
pub struct ViewState {
    pub focus_search: bool,
    /// The editor session drawn last frame (to focus Name when a new form opens).
    editor_session: u64,
    /// Which dialog was open last frame (to focus its first field when it opens).
    dialog_was_open: bool,
    notice_since: Option<(Notice, Instant)>,
    /// The selected host the window title names.
    titled: Option<Option<String>>,
    /// A rotating profile's countdown was drawn this frame: repaint once a second while it is.
    pub countdown_shown: bool,
    /// A tray icon is shown (gui.rs sets it): only then can the window be kept in the tray.
    pub tray_shown: bool,
}

/// The commands of one frame, in the order the user gave them.
pub type Commands = Vec<Command>;

/// Draws the window from `state` and returns what the user asked for (apply them in order).
pub fn draw(state: &AppState, view: &mut ViewState, ui: &mut egui::Ui) -> Commands {
    let mut commands = Commands::new();
    let out = &mut commands;
    shortcuts(state, view, ui.ctx(), out);
    window_title(state, view, ui.ctx());
    expire_notice(state, view, out);
    egui::Panel::top("toolbar").show(ui, |ui| {
        name_region(ui, "Toolbar");
        toolbar(state, view, ui, out);
    });
    history_panel(state, ui, out);
    // A wider window starts with a wider list (names and statuses whole); the user's width is kept after.
    let hosts_width = (ui.ctx().content_rect().width() * 0.35).clamp(320.0, 480.0);
    egui::Panel::left("hosts").resizable(true).min_size(HOSTS_MIN_WIDTH).default_size(hosts_width).show(ui, |ui| {
        name_region(ui, "Hosts");
        view.countdown_shown = host_list::draw(state, ui, out);
    });
    egui::CentralPanel::default_margins().show(ui, |ui| {
        name_region(ui, if state.editing.is_open() { "Editor" } else { "Details" });
        if state.editing.is_open() {
            let opened = state.editing.session != view.editor_session;
            view.editor_session = state.editing.session;
            // A dialog over the editor (Discard changes?) gets the keys first.
            let keys = !state.modal_open();
            editor_view::draw(state, opened, keys, ui, out);
        } else {
            view.countdown_shown |= detail::draw(state, ui, out);
        }
    });
    let dialog_open = state.modal_open();
    let opened = dialog_open && !view.dialog_was_open;
    view.dialog_was_open = dialog_open;
    dialogs::draw(state, opened, ui.ctx(), out);
    notice_toast(state, ui.ctx(), out);
    commands
}

/// The History panel gives way first: collapsed it is one line (its title, a toggle); expanded it is
/// resizable and never takes more than a third of the window, so the action rows above keep their room.
fn history_panel(state: &AppState, ui: &mut egui::Ui, out: &mut Commands) {
    let history_open = state.settings.history_open;
    let history = &state.runs.history;
    let height = ui.ctx().content_rect().height();
    let panel = egui::Panel::bottom("history");
    let panel = if history_open {
        panel.resizable(true).default_size(140.0).min_size(60.0).max_size((height / 3.0).max(60.0))
    } else {
        panel.resizable(false)
    };
    panel.show(ui, |ui| {
        name_region(ui, "History");
        let arrow = if history_open { icons::EXPANDED } else { icons::COLLAPSED };
        let title = format!("{arrow} History ({})", history.len());
        let toggle = ui
            .add(egui::Button::new(RichText::new(title).strong()).frame(false))
            .on_hover_text(if history_open { "Hide the history" } else { "Show the knocks of this session" });
        // Assistive tools get the words without the arrow, and whether it is expanded.
        let name = format!("History ({})", history.len());
        toggle.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &name));
        ui.ctx().accesskit_node_builder(toggle.id, |node| node.set_expanded(history_open));
        if toggle.clicked() {
            out.push(Command::ToggleHistory);
        }
        if history_open {
            history::draw(state, ui);
        }
    });
}
/// Names a panel for assistive tools (a landmark region screen readers can jump to).
fn name_region(ui: &egui::Ui, name: &str) {
    ui.ctx().accesskit_node_builder(ui.unique_id(), |node| {
        node.set_role(egui::accesskit::Role::Region);
        node.set_label(name);
    });
}

/// The title names the selected host, so a window switcher tells windows and hosts apart. Assistive
/// tools read the same words as the window's name: egui's root node has none of its own, and AT-SPI
/// (accesskit_unix) names the window after it.
fn window_title(state: &AppState, view: &mut ViewState, ctx: &egui::Context) {
    let selected = &state.list.selected;
    let title = match selected.as_deref().and_then(|n| state.list.profile(n)) {
        Some(profile) => format!("{} ({}) — knock", selected.as_deref().unwrap_or_default(), profile.host),
        None => "knock".to_owned(),
    };
    // The tree is built anew each pass, so the name is set on every pass; the title only when it changes.
    ctx.accesskit_node_builder(egui::accesskit_root_id(), |node| node.set_label(title.as_str()));
    if view.titled.as_ref() == Some(selected) {
        return;
    }
    view.titled = Some(selected.clone());
    ctx.send_viewport_cmd(egui::ViewportCommand::Title(title));
}

fn expire_notice(state: &AppState, view: &mut ViewState, out: &mut Commands) {
    let Some(notice) = state.notices.current.clone() else {
        view.notice_since = None;
        return;
    };
    match &view.notice_since {
        Some((shown, since)) if *shown == notice => {
            if matches!(notice, Notice::Info(_)) && since.elapsed() >= NOTICE_LIFETIME {
                out.push(Command::DismissNotice);
                view.notice_since = None;
            }
        }
        _ => view.notice_since = Some((notice, Instant::now())),
    }
}

/// Keyboard actions act on the highlighted, listed row only ([`crate::app::HostList::highlighted`]):
/// Enter knocks it, Delete asks to delete it, ↑/↓ move the selection; Ctrl+N starts a new profile
/// (asking first if edits would be lost), Ctrl+F goes to the search box. Dialogs and the editor handle
/// their own keys. Each is a command, as the same click would be.
fn shortcuts(state: &AppState, view: &mut ViewState, ctx: &egui::Context, out: &mut Commands) {
    if state.modal_open() {
        return;
    }
    if ctx.input_mut(|i| i.consume_key(Modifiers::COMMAND, Key::N)) {
        out.push(Command::NewProfile);
    }
    if ctx.input_mut(|i| i.consume_key(Modifiers::COMMAND, Key::F)) {
        view.focus_search = true;
    }
    if ctx.input_mut(|i| i.consume_key(Modifiers::COMMAND, Key::Q)) {
        out.push(Command::Quit);
    }
    if state.editing.is_open() {
        return;
    }
    let in_search = view_has_search_focus(ctx);
    if ctx.text_edit_focused() && !in_search {
        return;
    }
    // Enter and Delete belong to a focused button or header; with nothing focused, the search box or a
    // host row focused, they act on the selection.
    let on_selection = !ctx.egui_wants_keyboard_input() || in_search || host_list::row_has_focus(ctx);
    if ctx.input_mut(|i| i.consume_key(Modifiers::NONE, Key::ArrowDown)) {
        out.push(Command::MoveSelection(1));
    }
    if ctx.input_mut(|i| i.consume_key(Modifiers::NONE, Key::ArrowUp)) {
        out.push(Command::MoveSelection(-1));
    }
    // Enter, Ctrl+D and Delete act on the selection, which is shown first (its group expanded, the list
    // scrolled to it): the keyboard never acts on a host the user cannot see. They act on the selection
    // as it is after the moves above (commands apply in order).
    if on_selection && ctx.input_mut(|i| i.consume_key(Modifiers::NONE, Key::Enter)) {
        out.push(Command::KnockSelected);
    }
    if ctx.input_mut(|i| i.consume_key(Modifiers::COMMAND, Key::D)) {
        out.push(Command::DiagnoseSelected);
    }
    if !in_search && on_selection && ctx.input_mut(|i| i.consume_key(Modifiers::NONE, Key::Delete)) {
        out.push(Command::DeleteSelected);
    }
}

fn search_id() -> egui::Id {
    egui::Id::unique("knock-search")
}

fn view_has_search_focus(ctx: &egui::Context) -> bool {
    ctx.memory(|m| m.has_focus(search_id()))
}

fn menu(state: &AppState, view: &ViewState, ui: &mut egui::Ui, out: &mut Commands) {
    egui::MenuBar::new().ui(ui, |ui| {
        ui.menu_button("File", |ui| {
            if ui.button("New profile   Ctrl+N").clicked() {
                out.push(Command::NewProfile);
            }
            if ui.button("Import…").clicked() {
                out.push(Command::OpenImport);
            }
            if ui.button("Import from text…").clicked() {
                out.push(Command::OpenImportUri);
            }
            if ui.button("Export…").clicked() {
                out.push(Command::OpenExport);
            }
            if ui.button("Open profiles folder").clicked() {
                out.push(Command::OpenProfilesFolder);
            }
            ui.separator();
            if ui.button("Quit   Ctrl+Q").clicked() {
                out.push(Command::Quit);
            }
        });
        ui.menu_button("View", |ui| {
            let mut theme = ui.ctx().options(|o| o.theme_preference);
            let before = theme;
            ui.radio_value(&mut theme, egui::ThemePreference::System, "Theme: follow the system");
            ui.radio_value(&mut theme, egui::ThemePreference::Light, "Theme: light");
            ui.radio_value(&mut theme, egui::ThemePreference::Dark, "Theme: dark");
            if theme != before {
                ui.ctx().set_theme(theme);
            }
            ui.separator();
            ui.label("On quit, doors opened here that have a close sequence:");
            let mut policy = state.settings.quit_policy;
            ui.radio_value(&mut policy, QuitPolicy::Ask, "ask what to do");
            ui.radio_value(&mut policy, QuitPolicy::CloseDoors, "close them");
            ui.radio_value(&mut policy, QuitPolicy::LeaveOpen, "leave them open");
            if policy != state.settings.quit_policy {
                out.push(Command::SetQuitPolicy(policy));
            }
            ui.separator();
            let mut keep_in_tray = state.settings.keep_in_tray;
            let changed = ui
                .add_enabled(
                    view.tray_shown,
                    egui::Checkbox::new(&mut keep_in_tray, "Keep running in the tray when the window is closed"),
                )
                .on_disabled_hover_text("No tray icon on this desktop: closing the window quits")
                .changed();
            if changed {
                out.push(Command::SetKeepInTray(keep_in_tray));
            }
            ui.separator();
            egui::gui_zoom::zoom_menu_buttons(ui);
        });
        ui.menu_button("Help", |ui| {
            ui.label(RichText::new("Shortcuts").strong());
            // A grid: the descriptions line up whatever the font (spaces do not, in a proportional one).
            let shortcuts = [
                ("Enter", "knock the selected host"),
                ("Up / Down", "move the selection"),
                ("Ctrl+F", "search"),
                ("Ctrl+N", "new profile"),
                ("Ctrl+D", "diagnose the selected host"),
                ("Ctrl+Q", "quit (asks about doors opened here)"),
                ("Ctrl+S / Enter", "save in the editor"),
                ("Escape", "close a menu, a dialog or the editor; clear the search"),
                ("Delete", "delete the selected profile (asks first)"),
            ];
            egui::Grid::new("shortcuts").num_columns(2).spacing([16.0, 2.0]).show(ui, |ui| {
                for (keys, what) in shortcuts {
                    ui.label(RichText::new(keys).strong());
                    ui.label(what);
                    ui.end_row();
                }
            });
            ui.separator();
            ui.label(format!("knock-gui {}: port knocking and fwknop SPA", env!("CARGO_PKG_VERSION")));
        });
    });
}

fn toolbar(state: &AppState, view: &mut ViewState, ui: &mut egui::Ui, out: &mut Commands) {
    ui.horizontal(|ui| {
        menu(state, view, ui, out);
        // The keyring and raw-socket states sit at the right of the menu bar, where nothing else is: in
        // the toolbar they were drawn over the search box in a small window.
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| system_states(state, ui, out));
    });
    // The toolbar wraps onto a second line in a narrow window rather than cutting its last buttons.
    ui.horizontal_wrapped(|ui| {
        ui.heading("knock");
        if ui.button("New").on_hover_text("New profile (Ctrl+N)").clicked() {
            out.push(Command::NewProfile);
        }
        if ui.button("Import…").on_hover_text("Import a profile .toml, an .fwknoprc or a knockd.conf").clicked() {
            out.push(Command::OpenImport);
        }
        if ui
            .button("Import from text…")
            .on_hover_text("Paste a knock+rotating:// line from knock-server rotating keygen")
            .clicked()
        {
            out.push(Command::OpenImportUri);
        }
        if ui.button("Export…").on_hover_text("Export profiles as .toml files").clicked() {
            out.push(Command::OpenExport);
        }
        ui.separator();
        ui.horizontal(|ui| {
            let label = ui.label("Search");
            let mut text = state.list.search.clone();
            let search = egui::TextEdit::singleline(&mut text)
                .id(search_id())
                .hint_text("name, host, tag (Ctrl+F)")
                .desired_width(180.0);
            let response = ui.add(search).labelled_by(label.id);
            // Escape in the search box clears it (and leaves it); so does the clear button.
            let escaped = response.has_focus() && ui.input_mut(|i| i.consume_key(Modifiers::NONE, Key::Escape));
            let lost_to_escape = response.lost_focus() && ui.input(|i| i.key_pressed(Key::Escape));
            let cleared = !text.is_empty() && {
                let clear = ui.small_button("×").on_hover_text("Clear the search (Escape)");
                clear.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, "Clear search"));
                clear.clicked()
            };
            if (escaped || lost_to_escape || cleared) && !text.is_empty() {
                out.push(Command::SetSearch(String::new()));
                response.surrender_focus();
            } else if response.changed() {
                out.push(Command::SetSearch(text));
            }
            if std::mem::take(&mut view.focus_search) {
                response.request_focus();
            }
        });
    });
}

/// Whether authenticated knocks can keep their secrets, and whether TCP hits can carry any flags.
fn system_states(state: &AppState, ui: &mut egui::Ui, out: &mut Commands) {
    let (text, tip) = match &state.system.raw_permission {
        client_core::RawPermission::Permitted => ("raw sockets: permitted", "TCP hits can carry any flags".to_owned()),
        client_core::RawPermission::Denied { how_to_grant, .. } => {
            ("raw sockets: not permitted", format!("Plain SYN hits still work. To send other flags: {how_to_grant}"))
        }
    };
    ui.label(RichText::new(text).small()).on_hover_text(tip);
    ui.separator();
    match &state.system.keyring {
        None => ui.label(RichText::new("keyring: checking…").small()),
        Some(Availability::Available) => ui
            .label(RichText::new("keyring: available").small())
            .on_hover_text("Secrets for authenticated knocks are stored in the OS keyring, never in files"),
        Some(Availability::Locked) => {
            // Locked is not "no keys": the keys may well be there. Unlock shows the OS's own prompt.
            if ui
                .small_button("Unlock")
                .on_hover_text("Unlock the keyring (the desktop asks for its password)")
                .clicked()
            {
                out.push(Command::UnlockKeyring);
            }
            ui.label(RichText::new("keyring: locked").small().color(ui.visuals().warn_fg_color))
                .on_hover_text("Keys for authenticated knocks are in the keyring, which is locked: Unlock it first")
        }
        Some(Availability::Unavailable(why)) => ui
            .label(RichText::new("keyring: unavailable").small().color(ui.visuals().warn_fg_color))
            .on_hover_text(why.as_str()),
    };
}

/// The notice of the last action, as a toast over the bottom right corner: it covers, never moves, the
/// layout (a notice that pushed the window down made the next click land on another widget).
fn notice_toast(state: &AppState, ctx: &egui::Context, out: &mut Commands) {
    let Some(notice) = state.notices.current.clone() else { return };
    egui::Area::new(egui::Id::unique("notice-toast"))
        .order(egui::Order::Foreground)
        .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-12.0, -12.0))
        .show(ctx, |ui| {
            egui::Frame::popup(ui.style()).show(ui, |ui| {
                ui.set_max_width((ctx.content_rect().width() - 48.0).clamp(160.0, 460.0));
                // The Dismiss button first, so a long message wraps beside it and never pushes it away.
                ui.horizontal(|ui| {
                    if ui.small_button("Dismiss").clicked() {
                        out.push(Command::DismissNotice);
                    }
                    let (text, color) = match &notice {
                        Notice::Info(text) => (text, ui.visuals().text_color()),
                        Notice::Error(text) => (text, ui.visuals().error_fg_color),
                    };
                    let words = ui.add(egui::Label::new(RichText::new(text).color(color)).wrap());
                    ui.ctx().accesskit_node_builder(words.id, |node| node.set_live(egui::accesskit::Live::Polite));
                });
            });
        });
}

/// Seconds since the Unix epoch (None before 1970: a broken clock shows no countdown).
pub fn unix_now() -> Option<u64> {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).ok().map(|d| d.as_secs())
}

/// "just now", "42 s ago", "5 min ago", "3 h ago", "2 d ago".
pub fn ago(at: SystemTime) -> String {
    let secs = SystemTime::now().duration_since(at).map_or(0, |d| d.as_secs());
    match secs {
        0..=4 => "just now".to_owned(),
        5..=59 => format!("{secs} s ago"),
        60..=3599 => format!("{} min ago", secs / 60),
        3600..=86_399 => format!("{} h ago", secs / 3600),
        _ => format!("{} d ago", secs / 86_400),
    }
}
