//! The icons the app draws, as characters of the fonts egui ships (`default_fonts`: Ubuntu-Light,
//! NotoEmoji and emoji-icon-font), so no icon font crate is needed (egui-phosphor has no release for
//! egui 0.37 yet). A test checks each one has a glyph, so none renders as a box.

pub const OPEN: &str = "✔";
pub const FAILED: &str = "❌";
pub const NEVER: &str = "○";
pub const SENT: &str = "➡";
pub const KNOCKING: &str = "⟳";
pub const CANCELLED: &str = "⏹";
pub const WARNING: &str = "⚠";
pub const PENDING: &str = "…";
pub const FAVOURITE: &str = "★";
pub const NOT_FAVOURITE: &str = "☆";
pub const COPY: &str = "🗐";
pub const PLUS: &str = "➕";
pub const TERMINAL: &str = "🖥";
/// Group header disclosure arrows.
pub const EXPANDED: &str = "⏷";
pub const COLLAPSED: &str = "⏵";
/// A rotating profile's window countdown.
pub const CLOCK: &str = "⏱";

pub const ALL: [&str; 16] = [
    OPEN,
    FAILED,
    NEVER,
    SENT,
    KNOCKING,
    CANCELLED,
    WARNING,
    PENDING,
    FAVOURITE,
    NOT_FAVOURITE,
    COPY,
    PLUS,
    TERMINAL,
    EXPANDED,
    COLLAPSED,
    CLOCK,
];

/// A button showing `icon` before `words` whose accessible name is the words alone: a screen reader
/// says "Connect", not the name of a glyph.
pub fn button(ui: &mut egui::Ui, icon: &str, words: &str) -> egui::Response {
    let response = ui.button(format!("{icon} {words}"));
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, ui.is_enabled(), words));
    response
}

/// A label showing `icon` before `words` (in `style`'s look) whose accessible text is the words alone.
pub fn label(
    ui: &mut egui::Ui,
    icon: &str,
    words: &str,
    style: impl FnOnce(egui::RichText) -> egui::RichText,
) -> egui::Response {
    // Not selectable: a selectable label also exposes its raw text (the glyph) as text runs.
    let response = ui.add(egui::Label::new(style(egui::RichText::new(format!("{icon} {words}")))).selectable(false));
    speak_as(ui, &response, words);
    response
}

/// What assistive tools read for a widget that shows an icon: `words` (a label's text is its value).
pub fn speak_as(ui: &egui::Ui, response: &egui::Response, words: &str) {
    ui.ctx().accesskit_node_builder(response.id, |node| {
        if node.role() == egui::accesskit::Role::Label {
            node.set_value(words);
        } else {
            node.set_label(words);
        }
    });
}

/// An icon that only decorates words next to it: hidden from assistive tools.
pub fn decoration(ui: &egui::Ui, response: &egui::Response) {
    ui.ctx().accesskit_node_builder(response.id, |node| node.set_hidden());
}
