//! Linux/BSD: the tray as a StatusNotifierItem (org.kde.StatusNotifierItem with a com.canonical.dbusmenu
//! menu) on the session bus, through ksni (pure Rust over zbus). ksni registers the item with the
//! org.kde.StatusNotifierWatcher and serves the menu; the item lives on its own thread ("knock-tray"),
//! which also applies menu changes, so the UI thread never waits on D-Bus. Registration fails fast
//! without a session bus or without a watcher: that is reported as [`Event::Unavailable`].

use std::sync::mpsc::{Receiver, Sender};

use ksni::blocking::TrayMethods;
use ksni::menu::{MenuItem, StandardItem};

use super::{Event, Menu, NO_FAVOURITES_LABEL, OPEN_LABEL, QUIT_LABEL, TrayRequest, Waker};

/// The running item: menus go to its thread, which ends (and takes the item off the bus) when this drops.
pub(super) struct Backend {
    menus: Sender<Menu>,
}

impl Backend {
    pub(super) fn start(events: Sender<Event>, waker: Waker) -> Backend {
        let (menus, menus_rx) = std::sync::mpsc::channel();
        let item = Item { menu: Menu::default(), events: events.clone(), waker: waker.clone() };
        let started = std::thread::Builder::new().name("knock-tray".to_owned()).spawn(move || serve(item, &menus_rx));
        if let Err(err) = started {
            let _ = events.send(Event::Unavailable(format!("no tray icon: cannot start its thread: {err}")));
            waker();
        }
        Backend { menus }
    }

    pub(super) fn set_menu(&mut self, menu: &Menu) {
        // The thread ended only when the item could not be registered (already reported).
        let _ = self.menus.send(menu.clone());
    }
}

/// Registers the item, then applies each new menu until the app drops its [`Backend`].
fn serve(item: Item, menus: &Receiver<Menu>) {
    let (events, waker) = (item.events.clone(), item.waker.clone());
    let handle = match item.spawn() {
        Ok(handle) => handle,
        Err(err) => {
            let _ = events.send(Event::Unavailable(why_unavailable(&err)));
            waker();
            return;
        }
    };
    let _ = events.send(Event::Shown);
    waker();
    while let Ok(menu) = menus.recv() {
        if handle.update(|item| item.menu = menu).is_none() {
            break;
        }
    }
    handle.shutdown().wait();
}

/// Why the item cannot be shown, in the user's words.
fn why_unavailable(err: &ksni::Error) -> String {
    match err {
        ksni::Error::Dbus(err) => format!("no tray icon: no D-Bus session bus ({err})"),
        ksni::Error::Watcher(err) => {
            format!("no tray icon: this desktop shows no StatusNotifierItems (no StatusNotifierWatcher: {err})")
        }
        ksni::Error::WontShow => "no tray icon: this desktop shows no StatusNotifierItems (no host)".to_owned(),
        other => format!("no tray icon: {other}"),
    }
}

/// The item's state, owned by ksni's service: the menu to show and where requests go.
struct Item {
    menu: Menu,
    events: Sender<Event>,
    waker: Waker,
}

impl Item {
    fn send(&self, event: Event) {
        let _ = self.events.send(event);
        (self.waker)();
    }
}

/// A menu label as dbusmenu reads it: an underscore marks the access key, two are one underscore.
fn label(text: &str) -> String {
    text.replace('_', "__")
}

/// The app's icon as StatusNotifierItem pixmaps want it: ARGB32 in network byte order.
fn icon() -> ksni::Icon {
    let icon = crate::icon::window_icon();
    let data = icon.rgba.chunks_exact(4).flat_map(|p| [p[3], p[0], p[1], p[2]]).collect();
    ksni::Icon { width: icon.width as i32, height: icon.height as i32, data }
}

impl ksni::Tray for Item {
    fn id(&self) -> String {
        "knock-gui".to_owned()
    }

    fn title(&self) -> String {
        "knock".to_owned()
    }

    /// The installed icon's name (packaging installs knock-gui.png into the icon theme), with the pixmap
    /// for hosts that find no theme icon.
    fn icon_name(&self) -> String {
        "knock-gui".to_owned()
    }

    fn icon_pixmap(&self) -> Vec<ksni::Icon> {
        vec![icon()]
    }

    fn tool_tip(&self) -> ksni::ToolTip {
        ksni::ToolTip { title: "knock".to_owned(), ..Default::default() }
    }

    /// A left click on the icon opens the window (the menu is on the right click).
    fn activate(&mut self, _x: i32, _y: i32) {
        self.send(Event::Request(TrayRequest::ShowWindow));
    }

    fn menu(&self) -> Vec<MenuItem<Self>> {
        let mut items: Vec<MenuItem<Self>> = self
            .menu
            .favourites
            .iter()
            .map(|favourite| {
                let name = favourite.name.clone();
                StandardItem {
                    label: label(&favourite.label),
                    activate: Box::new(move |item: &mut Item| {
                        item.send(Event::Request(TrayRequest::Knock(name.clone())));
                    }),
                    ..Default::default()
                }
                .into()
            })
            .collect();
        if items.is_empty() {
            items.push(
                StandardItem { label: NO_FAVOURITES_LABEL.to_owned(), enabled: false, ..Default::default() }.into(),
            );
        }
        items.push(MenuItem::Separator);
        items.push(
            StandardItem {
                label: OPEN_LABEL.to_owned(),
                activate: Box::new(|item: &mut Item| item.send(Event::Request(TrayRequest::ShowWindow))),
                ..Default::default()
            }
            .into(),
        );
        items.push(
            StandardItem {
                label: QUIT_LABEL.to_owned(),
                activate: Box::new(|item: &mut Item| item.send(Event::Request(TrayRequest::Quit))),
                ..Default::default()
            }
            .into(),
        );
        items
    }

    /// The watcher is back (a panel restarted): ksni registered the item again.
    fn watcher_online(&self) {
        self.send(Event::Shown);
    }

    /// The watcher went away: no tray for now (the app shows its window); keep the item for when it comes
    /// back.
    fn watcher_offline(&self, reason: ksni::OfflineReason) -> bool {
        let why = match reason {
            ksni::OfflineReason::Error(err) => why_unavailable(&err),
            _ => "the tray went away (its StatusNotifierWatcher left the session bus)".to_owned(),
        };
        self.send(Event::Unavailable(why));
        true
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn underscores_in_names_are_shown_not_taken_as_access_keys() {
        assert_eq!(super::label("db_main — door open"), "db__main — door open");
    }

    #[test]
    fn the_icon_is_argb_in_network_order() {
        let icon = super::icon();
        assert_eq!(icon.data.len(), (icon.width * icon.height * 4) as usize);
        // The centre of the last knock is the opaque green (0x6f, 0xcf, 0x97) of icon.rs.
        let at = ((32 * icon.width + 48) * 4) as usize;
        assert_eq!(&icon.data[at..at + 4], &[0xff, 0x6f, 0xcf, 0x97]);
    }
}
