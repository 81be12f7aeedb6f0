//! Windows and macOS: the tray through tauri's tray-icon (menus by muda). Windows: an icon in the
//! notification area (Shell_NotifyIcon); its menu opens on a right click, a left click opens the window.
//! macOS: a menu-bar item (NSStatusItem) whose click opens the menu. Both are created on the main thread
//! (eframe's creation closure runs there) and live in the event loop winit pumps; their events arrive
//! through handlers that forward them to the app and wake it, as the window may be hidden.
//!
//! Menu items carry their meaning in their ids ("knock:NAME", "open", "quit"), so an event needs no
//! lookup table that could go stale when the menu is rebuilt.

use std::sync::mpsc::Sender;

use tray_icon::menu::{Menu as NativeMenu, MenuEvent, MenuItem, PredefinedMenuItem};
use tray_icon::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};

use super::{Event, Menu, NO_FAVOURITES_LABEL, OPEN_LABEL, QUIT_LABEL, TrayRequest, Waker};

const KNOCK_PREFIX: &str = "knock:";
const OPEN_ID: &str = "open";
const QUIT_ID: &str = "quit";

/// The icon; None when it could not be created (already reported).
pub(super) struct Backend {
    icon: Option<TrayIcon>,
}

impl Backend {
    pub(super) fn start(events: Sender<Event>, waker: Waker) -> Backend {
        let report = |event: Event| {
            let _ = events.send(event);
            waker();
        };
        let image = crate::icon::window_icon();
        let icon = match tray_icon::Icon::from_rgba(image.rgba, image.width, image.height) {
            Ok(icon) => icon,
            Err(err) => {
                report(Event::Unavailable(format!("no tray icon: {err}")));
                return Backend { icon: None };
            }
        };
        let builder = TrayIconBuilder::new()
            .with_tooltip("knock")
            .with_icon(icon)
            .with_menu(Box::new(native_menu(&Menu::default())))
            // Windows: the left click opens the window, the right click the menu; macOS: menu-bar items open
            // their menu on any click.
            .with_menu_on_left_click(cfg!(target_os = "macos"));
        let built = match builder.build() {
            Ok(icon) => icon,
            Err(err) => {
                report(Event::Unavailable(format!("no tray icon: {err}")));
                return Backend { icon: None };
            }
        };
        let (menu_events, menu_waker) = (events.clone(), waker.clone());
        MenuEvent::set_event_handler(Some(move |event: MenuEvent| {
            if let Some(request) = request_of(event.id.as_ref()) {
                let _ = menu_events.send(Event::Request(request));
                menu_waker();
            }
        }));
        let (click_events, click_waker) = (events.clone(), waker.clone());
        TrayIconEvent::set_event_handler(Some(move |event: TrayIconEvent| {
            if cfg!(windows)
                && let TrayIconEvent::Click { button: MouseButton::Left, button_state: MouseButtonState::Up, .. } =
                    event
            {
                let _ = click_events.send(Event::Request(TrayRequest::ShowWindow));
                click_waker();
            }
        }));
        report(Event::Shown);
        Backend { icon: Some(built) }
    }

    pub(super) fn set_menu(&mut self, menu: &Menu) {
        if let Some(icon) = &self.icon {
            icon.set_menu(Some(Box::new(native_menu(menu))));
        }
    }
}

/// The request a menu item's id stands for.
fn request_of(id: &str) -> Option<TrayRequest> {
    match id {
        OPEN_ID => Some(TrayRequest::ShowWindow),
        QUIT_ID => Some(TrayRequest::Quit),
        _ => id.strip_prefix(KNOCK_PREFIX).map(|name| TrayRequest::Knock(name.to_owned())),
    }
}

/// A menu label shown as written: on Windows '&' marks the access key (two are one '&').
fn label(text: &str) -> String {
    if cfg!(windows) { text.replace('&', "&&") } else { text.to_owned() }
}

/// The menu as muda items: the favourites, a separator, Open knock and Quit.
fn native_menu(menu: &Menu) -> NativeMenu {
    let native = NativeMenu::new();
    // Appending to a fresh menu fails only for an item already in it, which cannot happen here.
    let add = |item: &dyn tray_icon::menu::IsMenuItem| {
        let _ = native.append(item);
    };
    for favourite in &menu.favourites {
        add(&MenuItem::with_id(format!("{KNOCK_PREFIX}{}", favourite.name), label(&favourite.label), true, None));
    }
    if menu.favourites.is_empty() {
        add(&MenuItem::new(NO_FAVOURITES_LABEL, false, None));
    }
    add(&PredefinedMenuItem::separator());
    add(&MenuItem::with_id(OPEN_ID, OPEN_LABEL, true, None));
    add(&MenuItem::with_id(QUIT_ID, QUIT_LABEL, true, None));
    native
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn menu_ids_stand_for_their_requests() {
        assert_eq!(request_of("knock:web:1"), Some(TrayRequest::Knock("web:1".to_owned())));
        assert_eq!(request_of(OPEN_ID), Some(TrayRequest::ShowWindow));
        assert_eq!(request_of(QUIT_ID), Some(TrayRequest::Quit));
        assert_eq!(request_of("other"), None);
    }

    #[test]
    fn ampersands_in_names_are_shown_not_taken_as_access_keys() {
        let expected = if cfg!(windows) { "R&&D — door open" } else { "R&D — door open" };
        assert_eq!(label("R&D — door open"), expected);
    }
}
