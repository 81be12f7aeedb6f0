//! The host list: one row per profile, every row exactly [`ROW_HEIGHT`] high and one line (text cut
//! with an ellipsis, the whole of it in a tooltip), so the virtualised list is exact at any width and
//! with thousands of profiles. A row is one Tab stop (its Knock and favourite buttons are pointer-only;
//! Enter knocks the highlighted row). Tags are filter chips above the list.

use egui::text::{LayoutJob, TextFormat, TextWrapping};
use egui::{Color32, FontId, Rect, Role, Sense, Stroke, WidgetInfo};

use crate::app::{AppState, Command, Group, LastResult, ListRow, Status};
use crate::ui::Commands;
use crate::ui::{ago, icons};

pub const ROW_HEIGHT: f32 = 30.0;
const KNOCK_WIDTH: f32 = 64.0;
const ICON_WIDTH: f32 = 22.0;

/// Draws the list; true when a rotating profile's countdown is on screen (the window then repaints
/// once a second).
pub fn draw(state: &AppState, ui: &mut egui::Ui, out: &mut Commands) -> bool {
    let mut countdown = false;
    draw_rows(state, &mut countdown, ui, out);
    countdown
}

fn draw_rows(state: &AppState, countdown: &mut bool, ui: &mut egui::Ui, out: &mut Commands) {
    if state.list.entries.is_empty() {
        // First run: one obvious thing to do, and the other way in.
        ui.add_space(12.0);
        ui.vertical_centered(|ui| {
            let add = egui::Button::new(egui::RichText::new("Add your first host").strong().size(16.0))
                .min_size(egui::vec2(200.0, 36.0));
            if ui.add(add).on_hover_text("Ctrl+N").clicked() {
                out.push(Command::NewProfile);
            }
            ui.add_space(6.0);
            if ui
                .button("Import…")
                .on_hover_text("A knock profile (.toml), an fwknop client file (~/.fwknoprc) or a knockd.conf")
                .clicked()
            {
                out.push(Command::OpenImport);
            }
        });
        ui.add_space(12.0);
        ui.add(
            egui::Label::new(
                egui::RichText::new(format!("Profiles are kept in {}.", state.store().dir().display())).weak(),
            )
            .wrap(),
        );
        return;
    }
    tag_filters(state, ui, out);
    let rows = state.list.rows();
    if rows.is_empty() {
        // As wide as the panel: the panel keeps its width (never below HOSTS_MIN_WIDTH) with no rows.
        ui.add_sized([ui.available_width(), ROW_HEIGHT], egui::Label::new("No profile matches the search.").wrap());
        return;
    }
    ui.spacing_mut().item_spacing.y = 0.0;
    let mut scroll = egui::ScrollArea::vertical().auto_shrink([false, false]);
    // The keyboard moved the selection: scroll just enough to show its row (rows are exactly
    // ROW_HEIGHT apart, so its place is known without drawing the rows in between).
    let offset_id = ui.scope_id().with("host-list-offset");
    let scroll_to_selection = state.list.scroll_to_selection;
    if scroll_to_selection {
        out.push(Command::SelectionScrolled);
    }
    if scroll_to_selection
        && let Some(index) =
            rows.iter().position(|r| matches!(r, ListRow::Profile(n) if Some(n) == state.list.selected.as_ref()))
    {
        let viewport = ui.available_height();
        let offset = ui.ctx().data(|d| d.get_temp::<f32>(offset_id)).unwrap_or(0.0);
        let top = index as f32 * ROW_HEIGHT;
        let wanted = if top < offset {
            top
        } else if top + ROW_HEIGHT > offset + viewport {
            top + ROW_HEIGHT - viewport
        } else {
            offset
        };
        scroll = scroll.vertical_scroll_offset(wanted.max(0.0));
        // Keyboard focus, if it is on a row, goes with the selection: one highlight, never two.
        if ui.ctx().data(|d| d.get_temp::<bool>(row_focus_id()).unwrap_or(false)) {
            ui.ctx().data_mut(|d| d.insert_temp(focus_selected_id(), true));
        }
    }
    ui.ctx().data_mut(|d| d.insert_temp(row_focus_id(), false));
    let output = scroll.show_rows(ui, ROW_HEIGHT, rows.len(), |ui, range| {
        ui.spacing_mut().item_spacing.y = 0.0;
        for row in &rows[range] {
            match row {
                ListRow::Profile(name) => {
                    ui.push_id(name, |ui| *countdown |= self::row(state, name, ui, out));
                }
                ListRow::Header { group, count, collapsed } => {
                    ui.push_id(group.key(), |ui| header(group, *count, *collapsed, ui, out));
                }
            }
        }
    });
    ui.ctx().data_mut(|d| d.insert_temp(offset_id, output.state.clamped_offset().y));
}

/// Whether a host row had the keyboard focus in the last frame.
pub fn row_has_focus(ctx: &egui::Context) -> bool {
    ctx.data(|d| d.get_temp::<bool>(row_focus_id()).unwrap_or(false))
}

/// Whether a host row had the keyboard focus this frame.
fn row_focus_id() -> egui::Id {
    egui::Id::unique("host-row-has-focus")
}

/// The selected row takes the keyboard focus when it is drawn next (the selection moved while a row
/// had it).
fn focus_selected_id() -> egui::Id {
    egui::Id::unique("host-row-focus-selected")
}

/// A group header: one row of the same height, a disclosure arrow, the group and its count. Clicking
/// (or Enter/Space on it) collapses or expands it; assistive tools get its expanded state.
fn header(group: &Group, count: usize, collapsed: bool, ui: &mut egui::Ui, out: &mut Commands) {
    let (rect, response) = ui.allocate_exact_size(egui::vec2(ui.available_width(), ROW_HEIGHT), Sense::click());
    let label = format!("{} ({count})", group.title());
    response.widget_info(|| WidgetInfo::labeled(Role::Button, true, &label));
    ui.ctx().accesskit_node_builder(response.id, |node| node.set_expanded(!collapsed));
    let activated = response.clicked()
        || (response.has_focus() && ui.input(|i| i.key_pressed(egui::Key::Space) || i.key_pressed(egui::Key::Enter)));
    if activated {
        out.push(Command::ToggleGroup(group.clone()));
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
fn tag_filters(state: &AppState, ui: &mut egui::Ui, out: &mut Commands) {
    let tags = state.list.tags();
    let filter = &state.list.tag_filter;
    if tags.is_empty() {
        return;
    }
    ui.horizontal_wrapped(|ui| {
        if ui.selectable_label(filter.is_none(), "all").clicked() && filter.is_some() {
            out.push(Command::SetTagFilter(None));
        }
        for tag in tags.iter() {
            let on = filter.as_deref() == Some(tag.as_str());
            if ui
                .selectable_label(on, format!("#{tag}"))
                .on_hover_text(format!("List only hosts tagged {tag}"))
                .clicked()
            {
                out.push(Command::SetTagFilter(if on { None } else { Some(tag.clone()) }));
            }
        }
    });
    ui.separator();
}

/// How a row shows its status: an icon, a colour, a short word that always fits the row ("not opened")
/// and, when there is room, when it happened ("5 min ago"); the whole text is in the row's tooltip.
pub struct StatusLook {
    pub icon: &'static str,
    pub color: Color32,
    pub word: &'static str,
    pub when: Option<String>,
}

impl StatusLook {
    /// The word and when, as the tooltip and assistive tools read it.
    pub fn full(&self) -> String {
        match &self.when {
            Some(when) => format!("{} {when}", self.word),
            None => self.word.to_owned(),
        }
    }
}

/// The status icon, its colour and words.
pub fn status_look(status: Status, last: &LastResult, visuals: &egui::Visuals) -> StatusLook {
    let green =
        if visuals.dark_mode { Color32::from_rgb(0x4c, 0xc3, 0x6a) } else { Color32::from_rgb(0x1a, 0x7f, 0x37) };
    let look = |icon, color, word, at: &std::time::SystemTime| StatusLook { icon, color, word, when: Some(ago(*at)) };
    match (status, last) {
        (Status::Knocking, _) => {
            StatusLook { icon: icons::KNOCKING, color: visuals.hyperlink_color, word: "knocking…", when: None }
        }
        (Status::Open, LastResult::Opened { at, .. }) => look(icons::OPEN, green, "opened", at),
        (Status::Open, LastResult::StillOpen { at, .. }) => {
            look(icons::WARNING, visuals.warn_fg_color, "still open", at).after_close()
        }
        (Status::Sent, LastResult::Closed { at, .. }) => look(icons::CANCELLED, visuals.text_color(), "closed", at),
        (Status::Open, LastResult::AlreadyOpen { at, .. }) => look(icons::OPEN, green, "already open", at),
        (Status::Sent, LastResult::Sent { at, .. }) => look(icons::SENT, visuals.text_color(), "sent", at),
        (Status::Failed, LastResult::Unreachable { at, .. }) => {
            look(icons::WARNING, visuals.error_fg_color, "unreachable", at)
        }
        (Status::Failed, LastResult::NotOpened { at, .. }) => {
            look(icons::FAILED, visuals.error_fg_color, "not opened", at)
        }
        (Status::Failed, LastResult::Failed { at, .. }) => look(icons::FAILED, visuals.error_fg_color, "failed", at),
        _ => StatusLook { icon: icons::NEVER, color: visuals.weak_text_color(), word: "never knocked", when: None },
    }
}

impl StatusLook {
    /// "still open after close 5 min ago": the short word stays "still open".
    fn after_close(mut self) -> Self {
        self.when = self.when.map(|when| format!("after close {when}"));
        self
    }
}

/// One profile row; true when it shows a rotating window's countdown.
fn row(state: &AppState, name: &str, ui: &mut egui::Ui, out: &mut Commands) -> bool {
    let Some(entry) = state.list.entry(name) else { return false };
    let host = entry.profile.as_ref().map(|p| p.host.clone()).map_err(Clone::clone);
    let tags = entry.profile.as_ref().map(|p| p.tags.clone()).unwrap_or_default();
    let selected = state.list.selected.as_deref() == Some(name);
    let running = state.runs.is_running(name);
    let favourite = state.list.favourites.contains(name);
    let visuals = ui.visuals().clone();
    let look = match &host {
        Ok(_) => status_look(state.runs.status(name), state.runs.last_result(name), &visuals),
        Err(err) => StatusLook {
            icon: icons::WARNING,
            color: visuals.error_fg_color,
            word: "unreadable",
            when: Some(format!("line {}, column {}", err.line, err.column)),
        },
    };
    let (icon, color) = (look.icon, look.color);
    // A rotating profile: the seconds its current window has left (never its ports).
    let window = crate::ui::unix_now().and_then(|now| state.window_view(name, now));
    // The status drawn in the row, longest first: the first that fits is drawn (the whole text is in the
    // tooltip). A rotating row keeps its countdown before its word: the seconds left are what a knock needs.
    let status_texts = match &window {
        Some(w) => vec![
            format!("{} · {} {} s left", look.full(), icons::CLOCK, w.seconds_left),
            format!("{} · {} {} s", look.word, icons::CLOCK, w.seconds_left),
            format!("{} {} s", icons::CLOCK, w.seconds_left),
        ],
        None => vec![look.full(), look.word.to_owned()],
    };
    // The row's accessible name: words only (the clock glyph of a countdown is not read out).
    let spoken_status = status_texts[0].replace(&format!("{} ", icons::CLOCK), "");
    let full = match &host {
        Ok(host) => format!("{name}  ·  {host} — {spoken_status}"),
        Err(_) => format!("{name} (unreadable) — {spoken_status}"),
    };

    let (rect, response) = ui.allocate_exact_size(egui::vec2(ui.available_width(), ROW_HEIGHT), Sense::click());
    response.widget_info(|| WidgetInfo::selected(Role::ListBoxOption, true, selected, &full));
    // Assistive tools hear a selected option, not a checked one.
    ui.ctx().accesskit_node_builder(response.id, |node| {
        node.clear_toggled();
        node.set_selected(selected);
    });
    // Focus and selection are one: a row that gets the keyboard (Tab) is selected, and the selected row
    // takes the keyboard when the selection moves while a row has it.
    if response.clicked() || response.gained_focus() {
        out.push(Command::Select(name.to_owned()));
    }
    // Until the row has it: egui's own arrow-key navigation moves the focus at the end of the frame
    // the key was pressed in, so the request is repeated the next frame.
    if selected && ui.ctx().data(|d| d.get_temp::<bool>(focus_selected_id())).unwrap_or(false) {
        if response.has_focus() {
            ui.ctx().data_mut(|d| d.remove_temp::<bool>(focus_selected_id()));
        } else {
            response.request_focus();
        }
    }
    if response.has_focus() {
        ui.ctx().data_mut(|d| d.insert_temp(row_focus_id(), true));
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
        out.push(Command::ToggleFavourite(name.to_owned()));
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
        out.push(Command::Select(name.to_owned()));
        out.push(Command::Knock { profile: name.to_owned(), action: client_core::Action::Open });
    }

    // One line between the icon and the button: the status at its right end, never cut (a shorter form
    // when the whole does not fit in half the line), and the name, host and tags in what is left.
    let text_left = icon_rect.right() + 4.0;
    let width = (knock_rect.left() - 8.0 - text_left).max(0.0);
    let small = FontId::proportional(12.0);
    let status_galley = |text: &str| {
        let mut job = LayoutJob::simple_singleline(text.to_owned(), small.clone(), look.color);
        job.wrap = TextWrapping::truncate_at_width(width * 0.5);
        painter.layout_job(job)
    };
    let mut status = status_galley(&status_texts[0]);
    for shorter in &status_texts[1..] {
        if !status.elided {
            break;
        }
        status = status_galley(shorter);
    }
    let status_width = status.size().x;
    painter.galley(
        egui::pos2(knock_rect.left() - 8.0 - status_width, rect.center().y - status.size().y / 2.0),
        status,
        look.color,
    );
    let width = (width - status_width - 8.0).max(0.0);
    let mut job = LayoutJob::default();
    let body = FontId::proportional(14.0);
    // Long names that share a prefix stay apart: the name is cut in its middle (its end, where they
    // differ, stays) to at most 60 % of what is left; the host and tags take the rest.
    let shown_name = middle_truncated(ui.ctx(), name, &body, width * 0.6);
    job.append(&shown_name, 0.0, TextFormat::simple(body.clone(), text_color));
    if let Ok(host) = &host {
        job.append(host, 8.0, TextFormat::simple(small.clone(), visuals.weak_text_color()));
    }
    for tag in &tags {
        job.append(&format!("#{tag}"), 6.0, TextFormat::simple(small.clone(), visuals.hyperlink_color));
    }
    job.wrap = TextWrapping::truncate_at_width(width);
    let galley = painter.layout_job(job);
    let y = rect.center().y - galley.size().y / 2.0;
    painter.galley(egui::pos2(text_left, y), galley, text_color);
    window.is_some()
}

/// `text` cut in its middle with an ellipsis to fit `max_width` in `font` (as is when it fits): the start
/// and the end stay, so "very-long-profile-name-east" and "…-west" read differently.
pub fn middle_truncated(ctx: &egui::Context, text: &str, font: &FontId, max_width: f32) -> String {
    let widths: Vec<f32> = ctx.fonts_mut(|f| text.chars().map(|c| f.glyph_width(font, c)).collect());
    if widths.iter().sum::<f32>() <= max_width {
        return text.to_owned();
    }
    let ellipsis = ctx.fonts_mut(|f| f.glyph_width(font, '…'));
    let chars: Vec<char> = text.chars().collect();
    // Keep `n` characters: the end gets the larger half (where names made from a template differ).
    let split = |n: usize| (n / 2, n - n / 2);
    let fits = |n: usize| {
        let (head, tail) = split(n);
        let width: f32 = widths[..head].iter().sum::<f32>() + widths[chars.len() - tail..].iter().sum::<f32>();
        width + ellipsis <= max_width
    };
    let mut keep = 0;
    while keep < chars.len() && fits(keep + 1) {
        keep += 1;
    }
    let (head, tail) = split(keep);
    let mut cut: String = chars[..head].iter().collect();
    cut.push('…');
    cut.extend(&chars[chars.len() - tail..]);
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Item 8: long names with a common prefix keep the part that tells them apart.
    #[test]
    fn long_names_are_cut_in_the_middle() {
        let ctx = egui::Context::default();
        let mut output = ctx.run_ui(egui::RawInput::default(), |_| {});
        output.textures_delta.clear();
        let font = FontId::proportional(14.0);
        let east = middle_truncated(&ctx, "very-long-profile-name-for-the-staging-database-east", &font, 150.0);
        let west = middle_truncated(&ctx, "very-long-profile-name-for-the-staging-database-west", &font, 150.0);
        assert!(east.contains('…') && east.starts_with("very") && east.ends_with("east"), "{east}");
        assert_ne!(east, west);
        assert_eq!(middle_truncated(&ctx, "web", &font, 150.0), "web", "a short name is whole");
    }
}
