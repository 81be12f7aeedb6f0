//! The host list: one row per profile, every row exactly [`ROW_HEIGHT`] high and one line (text cut
//! with an ellipsis, the whole of it in a tooltip), so the virtualised list is exact at any width and
//! with thousands of profiles. A row is one Tab stop (its Knock and favourite buttons are pointer-only;
//! Enter knocks the highlighted row). Tags are filter chips above the list.

use egui::text::{LayoutJob, TextFormat, TextWrapping};
use egui::{Color32, FontId, Rect, Role, Sense, Stroke, WidgetInfo};

use crate::app::{AppState, Group, LastResult, ListRow, Status};
use crate::ui::{ago, icons};

pub const ROW_HEIGHT: f32 = 30.0;
const KNOCK_WIDTH: f32 = 64.0;
const ICON_WIDTH: f32 = 22.0;

/// Draws the list; true when a rotating profile's countdown is on screen (the window then repaints
/// once a second).
pub fn draw(state: &mut AppState, ui: &mut egui::Ui) -> bool {
    let mut countdown = false;
    draw_rows(state, &mut countdown, ui);
    countdown
}

fn draw_rows(state: &mut AppState, countdown: &mut bool, ui: &mut egui::Ui) {
    if state.entries.is_empty() {
        ui.add(egui::Label::new(format!("No profiles yet in {}.", state.store().dir().display())).wrap());
        ui.add(egui::Label::new("Click New (Ctrl+N), or Import… a knockd.conf or .fwknoprc.").wrap());
        return;
    }
    tag_filters(state, ui);
    let rows = state.rows();
    if rows.is_empty() {
        // As wide as the panel: the panel keeps its width (never below HOSTS_MIN_WIDTH) with no rows.
        ui.add_sized([ui.available_width(), ROW_HEIGHT], egui::Label::new("No profile matches the search.").wrap());
        return;
    }
    ui.spacing_mut().item_spacing.y = 0.0;
    egui::ScrollArea::vertical().auto_shrink([false, false]).show_rows(ui, ROW_HEIGHT, rows.len(), |ui, range| {
        ui.spacing_mut().item_spacing.y = 0.0;
        for row in &rows[range] {
            match row {
                ListRow::Profile(name) => {
                    ui.push_id(name, |ui| *countdown |= self::row(state, name, ui));
                }
                ListRow::Header { group, count, collapsed } => {
                    ui.push_id(group.key(), |ui| header(state, group, *count, *collapsed, ui));
                }
            }
        }
    });
}

/// A group header: one row of the same height, a disclosure arrow, the group and its count. Clicking
/// (or Enter/Space on it) collapses or expands it; assistive tools get its expanded state.
fn header(state: &mut AppState, group: &Group, count: usize, collapsed: bool, ui: &mut egui::Ui) {
    let (rect, response) = ui.allocate_exact_size(egui::vec2(ui.available_width(), ROW_HEIGHT), Sense::click());
    let label = format!("{} ({count})", group.title());
    response.widget_info(|| WidgetInfo::labeled(Role::Button, true, &label));
    ui.ctx().accesskit_node_builder(response.id, |node| node.set_expanded(!collapsed));
    let activated = response.clicked()
        || (response.has_focus() && ui.input(|i| i.key_pressed(egui::Key::Space) || i.key_pressed(egui::Key::Enter)));
    if activated {
        state.toggle_group(group);
    }
    let response = response.on_hover_text(if collapsed { "Show this group" } else { "Hide this group" });
    if !ui.is_rect_visible(rect) {
        return;
    }
    let visuals = ui.visuals().clone();
    let painter = ui.painter_at(rect);
    if response.hovered() {
        painter.rect_filled(rect, 4.0, visuals.widgets.hovered.weak_bg_fill);
    }
    if response.has_focus() {
        painter.rect_stroke(rect.shrink(1.0), 4.0, visuals.selection.stroke, egui::StrokeKind::Inside);
    }
    let arrow = if collapsed { icons::COLLAPSED } else { icons::EXPANDED };
    let arrow_rect = Rect::from_min_size(rect.min, egui::vec2(ICON_WIDTH, ROW_HEIGHT));
    painter.text(
        arrow_rect.center(),
        egui::Align2::CENTER_CENTER,
        arrow,
        FontId::proportional(13.0),
        visuals.weak_text_color(),
    );
    painter.text(
        egui::pos2(arrow_rect.right() + 2.0, rect.center().y),
        egui::Align2::LEFT_CENTER,
        &label,
        FontId::proportional(13.0),
        visuals.strong_text_color(),
    );
}

/// "All" and one chip per tag; clicking a chip lists only its profiles.
fn tag_filters(state: &mut AppState, ui: &mut egui::Ui) {
    let tags = state.tags();
    if tags.is_empty() {
        return;
    }
    ui.horizontal_wrapped(|ui| {
        let mut changed = false;
        if ui.selectable_label(state.tag_filter.is_none(), "all").clicked() {
            changed |= state.tag_filter.take().is_some();
        }
        for tag in tags.iter() {
            let on = state.tag_filter.as_deref() == Some(tag.as_str());
            if ui
                .selectable_label(on, format!("#{tag}"))
                .on_hover_text(format!("List only hosts tagged {tag}"))
                .clicked()
            {
                state.tag_filter = if on { None } else { Some(tag.clone()) };
                changed = true;
            }
        }
        if changed {
            state.filter_changed();
        }
    });
    ui.separator();
}

/// The status icon, its colour and words.
pub fn status_look(status: Status, last: &LastResult, visuals: &egui::Visuals) -> (&'static str, Color32, String) {
    let green =
        if visuals.dark_mode { Color32::from_rgb(0x4c, 0xc3, 0x6a) } else { Color32::from_rgb(0x1a, 0x7f, 0x37) };
    match (status, last) {
        (Status::Knocking, _) => (icons::KNOCKING, visuals.hyperlink_color, "knocking…".to_owned()),
        (Status::Open, LastResult::Opened { at, .. }) => (icons::OPEN, green, format!("opened {}", ago(*at))),
        (Status::Open, LastResult::AlreadyOpen { at, .. }) => {
            (icons::OPEN, green, format!("already open {}", ago(*at)))
        }
        (Status::Sent, LastResult::Sent { at, .. }) => {
            (icons::SENT, visuals.text_color(), format!("sent {}", ago(*at)))
        }
        (Status::Failed, LastResult::NotOpened { at, .. }) => {
            (icons::FAILED, visuals.error_fg_color, format!("not opened {}", ago(*at)))
        }
        (Status::Failed, LastResult::Failed { at, .. }) => {
            (icons::FAILED, visuals.error_fg_color, format!("failed {}", ago(*at)))
        }
        _ => (icons::NEVER, visuals.weak_text_color(), "never knocked".to_owned()),
    }
}

/// One profile row; true when it shows a rotating window's countdown.
fn row(state: &mut AppState, name: &str, ui: &mut egui::Ui) -> bool {
    let Some(entry) = state.entry(name) else { return false };
    let host = entry.profile.as_ref().map(|p| p.host.clone()).map_err(Clone::clone);
    let tags = entry.profile.as_ref().map(|p| p.tags.clone()).unwrap_or_default();
    let selected = state.selected.as_deref() == Some(name);
    let running = state.runs.get(name).is_some_and(|r| r.is_running());
    let favourite = state.favourites.contains(name);
    let visuals = ui.visuals().clone();
    let (icon, color, status_text) = match &host {
        Ok(_) => status_look(state.status(name), state.last_result(name), &visuals),
        Err(err) => {
            (icons::WARNING, visuals.error_fg_color, format!("unreadable: line {}, column {}", err.line, err.column))
        }
    };
    // A rotating profile: the seconds its current window has left (never its ports).
    let window = crate::ui::unix_now().and_then(|now| state.window_view(name, now));
    let status_text = match &window {
        Some(w) => format!("{status_text} · {} {} s left", icons::CLOCK, w.seconds_left),
        None => status_text,
    };
    let full = match &host {
        Ok(host) => format!("{name}  ·  {host} — {status_text}"),
        Err(_) => format!("{name} (unreadable) — {status_text}"),
    };

    let (rect, response) = ui.allocate_exact_size(egui::vec2(ui.available_width(), ROW_HEIGHT), Sense::click());
    response.widget_info(|| WidgetInfo::selected(Role::ListBoxOption, true, selected, &full));
    if response.clicked() {
        state.select(name);
    }
    let response = response.on_hover_text(&full);
    if !ui.is_rect_visible(rect) {
        return false;
    }
    let painter = ui.painter_at(rect);
    if selected {
        painter.rect_filled(rect, 4.0, visuals.selection.bg_fill);
    } else if response.hovered() {
        painter.rect_filled(rect, 4.0, visuals.widgets.hovered.weak_bg_fill);
    }
    if response.has_focus() {
        painter.rect_stroke(rect.shrink(1.0), 4.0, visuals.selection.stroke, egui::StrokeKind::Inside);
    }
    let text_color = if selected { visuals.selection.stroke.color } else { visuals.text_color() };

    // Favourite star (pointer-only button).
    let star_rect = Rect::from_min_size(rect.min, egui::vec2(ICON_WIDTH, ROW_HEIGHT));
    let star = ui.interact(star_rect, ui.scope_id().with("favourite"), Sense::CLICK);
    star.widget_info(|| {
        WidgetInfo::labeled(Role::Button, true, if favourite { format!("Unpin {name}") } else { format!("Pin {name}") })
    });
    let star_color = if favourite { Color32::from_rgb(0xe0, 0xa0, 0x20) } else { visuals.weak_text_color() };
    painter.text(
        star_rect.center(),
        egui::Align2::CENTER_CENTER,
        if favourite { icons::FAVOURITE } else { icons::NOT_FAVOURITE },
        FontId::proportional(14.0),
        star_color,
    );
    if star.on_hover_text("Pin to the top of the list").clicked() {
        state.toggle_favourite(name);
    }

    // Status icon.
    let icon_rect = Rect::from_min_size(rect.min + egui::vec2(ICON_WIDTH, 0.0), egui::vec2(ICON_WIDTH, ROW_HEIGHT));
    painter.text(icon_rect.center(), egui::Align2::CENTER_CENTER, icon, FontId::proportional(15.0), color);

    // Knock button at the right (pointer-only: Enter knocks the highlighted row).
    let knock_rect = Rect::from_min_max(
        egui::pos2(rect.right() - KNOCK_WIDTH - 4.0, rect.top() + 3.0),
        egui::pos2(rect.right() - 4.0, rect.bottom() - 3.0),
    );
    let enabled = host.is_ok() && !running;
    let knock =
        ui.interact(knock_rect, ui.scope_id().with("knock"), if enabled { Sense::CLICK } else { Sense::hover() });
    knock.widget_info(|| WidgetInfo::labeled(Role::Button, enabled, format!("Knock {name}")));
    let fill = if knock.hovered() && enabled {
        visuals.widgets.hovered.weak_bg_fill
    } else {
        visuals.widgets.inactive.weak_bg_fill
    };
    painter.rect(
        knock_rect,
        4.0,
        fill,
        Stroke::new(1.0, visuals.widgets.inactive.bg_stroke.color),
        egui::StrokeKind::Inside,
    );
    painter.text(
        knock_rect.center(),
        egui::Align2::CENTER_CENTER,
        if running { "…" } else { "Knock" },
        FontId::proportional(13.0),
        if enabled { visuals.text_color() } else { visuals.weak_text_color() },
    );
    if knock.clicked() {
        state.select(name);
        state.knock(name, client_core::Action::Open);
    }

    // One line of text between the icon and the button, cut with an ellipsis.
    let text_left = icon_rect.right() + 4.0;
    let width = (knock_rect.left() - 8.0 - text_left).max(0.0);
    let mut job = LayoutJob::default();
    let body = FontId::proportional(14.0);
    let small = FontId::proportional(12.0);
    job.append(name, 0.0, TextFormat::simple(body.clone(), text_color));
    if let Ok(host) = &host {
        job.append(host, 8.0, TextFormat::simple(small.clone(), visuals.weak_text_color()));
    }
    for tag in &tags {
        job.append(&format!("#{tag}"), 6.0, TextFormat::simple(small.clone(), visuals.hyperlink_color));
    }
    job.append(&status_text, 8.0, TextFormat::simple(small, color));
    job.wrap = TextWrapping::truncate_at_width(width);
    let galley = painter.layout_job(job);
    let y = rect.center().y - galley.size().y / 2.0;
    painter.galley(egui::pos2(text_left, y), galley, text_color);
    window.is_some()
}
