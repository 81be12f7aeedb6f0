//! Issue 24 item 14: the tray's quick knock against the real StatusNotifierItem protocol. A private D-Bus
//! session (dbus-daemon) and X server (Xvfb); on the bus this test serves an org.kde.StatusNotifierWatcher
//! (the part of a desktop's tray host that items register with) and an org.freedesktop.Notifications
//! server, and reads the item's menu as a tray host does (com.canonical.dbusmenu GetLayout, Event). The
//! real knock-gui runs against them: its item registers, its menu lists the favourites with their last
//! outcome, Open knock and Quit; a click on a favourite knocks it (datagrams counted on loopback) and
//! its result arrives as a notification (also while the window has the focus, and also when the knock
//! cannot start); with "keep in tray" closing the window hides it, and Open knock or a click on the icon
//! shows it; Quit ends the process; if the tray host leaves, a hidden window comes back. Without a watcher the app says so once and runs on, and closing the
//! window quits.
//!
//! Linux only. Needs dbus-daemon and Xvfb (with xdotool): without them the tests print SKIPPED, and fail
//! when CI is set.
#![cfg(target_os = "linux")]

use std::collections::HashMap;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use client_core::{Profile, ProfileStore, Protocol, Sequence, SequenceSource};
use x11::{Children, start_xvfb, tools_present};
use zbus::zvariant::{OwnedValue, Value};

mod x11;

/// What each wait may take (a debug knock-gui starting under Xvfb on a loaded 2-core machine).
const LIMIT: Duration = Duration::from_secs(40);

/// True (and says why) when the tools are missing outside CI; fails in CI.
fn skipped() -> bool {
    !tools_present(&["dbus-daemon", "Xvfb", "xdotool", "xdpyinfo"], "dbus xvfb xdotool x11-utils")
}

fn wait_for<T>(what: &str, probe: impl FnMut() -> Option<T>) -> T {
    x11::wait_for(what, LIMIT, probe)
}

/// A private session: a D-Bus session bus, an X server, and the directories knock-gui keeps its state in.
struct Session {
    dir: tempfile::TempDir,
    bus: String,
    display: String,
    children: Children,
    /// knock-gui's process id, once started.
    app_pid: Option<u32>,
}

impl Session {
    fn start() -> Session {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("bus");
        let mut children = Children(Vec::new());
        // A bus with no service directories: nothing is started on demand (no keyring daemon, no
        // accessibility bus), so the session holds only what this test starts.
        let config = dir.path().join("bus.conf");
        std::fs::write(
            &config,
            format!(
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\" \
                 \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n\
                 <busconfig><type>session</type><listen>unix:path={}</listen><auth>EXTERNAL</auth>\
                 <policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>\
                 <allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>\n",
                socket.display()
            ),
        )
        .expect("bus config");
        children.0.push(
            Command::new("dbus-daemon")
                .args(["--nofork", "--nopidfile"])
                .arg(format!("--config-file={}", config.display()))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("dbus-daemon starts"),
        );
        wait_for("the private bus's socket", || socket.exists().then_some(()));
        let display = start_xvfb(600, "1280x800", &mut children);
        Session { bus: format!("unix:path={}", socket.display()), display, children, dir, app_pid: None }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes knock-gui's saved state (eframe's app.ron under XDG_DATA_HOME): these favourites, and the
    /// keep-in-tray setting.
    fn save_state(&self, favourites: &[&str], keep_in_tray: bool) {
        self.save_state_with(favourites, keep_in_tray, "Ask");
    }

    /// [`Session::save_state`] with a quit policy ("Ask", "CloseDoors", "LeaveOpen").
    fn save_state_with(&self, favourites: &[&str], keep_in_tray: bool, quit_policy: &str) {
        let dir = self.path("data/knock-gui");
        std::fs::create_dir_all(&dir).expect("state dir");
        let favourites: Vec<String> = favourites.iter().map(|f| format!("\\\"{f}\\\"")).collect();
        let state = format!(
            "{{\"knock-gui\": \"(selected: None, last_results: {{}}, favourites: [{}], keep_in_tray: {keep_in_tray}, \
             quit_policy: {quit_policy})\"}}",
            favourites.join(",")
        );
        std::fs::write(dir.join("app.ron"), state).expect("app.ron");
    }

    /// Starts knock-gui on this session's bus and display, on `profiles`; its stderr goes to a file.
    fn knock_gui(&mut self, profiles: &Path) -> usize {
        let stderr = std::fs::File::create(self.path("knock-gui.stderr")).expect("stderr file");
        self.children.0.push(
            Command::new(env!("CARGO_BIN_EXE_knock-gui"))
                .arg("--profiles-dir")
                .arg(profiles)
                .env("DISPLAY", &self.display)
                .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
                .env_remove("WAYLAND_DISPLAY")
                .env("HOME", self.path("home"))
                .env("XDG_DATA_HOME", self.path("data"))
                .env("XDG_CONFIG_HOME", self.path("config"))
                .env("XDG_CACHE_HOME", self.path("cache"))
                .env("XDG_RUNTIME_DIR", self.path("run"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .expect("knock-gui starts"),
        );
        self.app_pid = self.children.0.last().map(Child::id);
        self.children.0.len() - 1
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.path("knock-gui.stderr")).unwrap_or_default()
    }

    fn xdotool(&self, args: &[&str]) -> Option<String> {
        x11::run_on(&self.display, "xdotool", args)
    }

    /// knock-gui's mapped (visible) windows (by the process id winit sets on them, _NET_WM_PID).
    fn visible_windows(&self) -> Vec<u32> {
        let Some(pid) = self.app_pid else { return Vec::new() };
        self.xdotool(&["search", "--onlyvisible", "--pid", &pid.to_string()])
            .unwrap_or_default()
            .lines()
            .filter_map(|id| id.trim().parse().ok())
            .collect()
    }

    /// Asks each visible knock-gui window to close, as a window manager's close button does
    /// (WM_PROTOCOLS / WM_DELETE_WINDOW).
    fn close_windows(&self) {
        use x11rb::protocol::xproto::{ClientMessageEvent, ConnectionExt, EventMask};
        let (conn, _) = x11rb::connect(Some(&self.display)).expect("X connection");
        let atom = |name: &[u8]| conn.intern_atom(false, name).expect("intern").reply().expect("atom").atom;
        let (protocols, delete) = (atom(b"WM_PROTOCOLS"), atom(b"WM_DELETE_WINDOW"));
        for window in self.visible_windows() {
            let event = ClientMessageEvent::new(32, window, protocols, [delete, x11rb::CURRENT_TIME, 0, 0, 0]);
            conn.send_event(false, window, EventMask::NO_EVENT, event).expect("send").check().expect("sent");
        }
        // A round trip: the server has handled the events before the connection closes.
        conn.get_input_focus().expect("request").reply().expect("round trip");
    }

    /// Polls `done` until it holds (true) or the limit passes (false).
    fn wait_until(&self, mut done: impl FnMut(&Session) -> bool) -> bool {
        let start = Instant::now();
        while start.elapsed() < LIMIT {
            if done(self) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// Waits for `child` to end; the panic says `what` did not happen, with knock-gui's stderr.
    fn wait_exit(&mut self, child: usize, what: &str) -> std::process::ExitStatus {
        let start = Instant::now();
        while start.elapsed() < LIMIT {
            if let Some(status) = self.exited(child) {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "{what}: not within {LIMIT:?}; visible windows {:?}; knock-gui's stderr: {}",
            self.visible_windows(),
            self.stderr()
        );
    }

    fn exited(&mut self, child: usize) -> Option<std::process::ExitStatus> {
        self.children.0[child].try_wait().expect("wait")
    }
}

/// The test's org.kde.StatusNotifierWatcher: records the items that register.
#[derive(Clone, Default)]
struct Watcher {
    items: Arc<Mutex<Vec<String>>>,
}

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    async fn register_status_notifier_item(&self, service: String) {
        self.items.lock().expect("lock").push(service);
    }

    async fn register_status_notifier_host(&self, _service: String) {}

    #[zbus(property)]
    async fn registered_status_notifier_items(&self) -> Vec<String> {
        self.items.lock().expect("lock").clone()
    }

    #[zbus(property)]
    async fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    async fn protocol_version(&self) -> i32 {
        0
    }
}

/// The test's org.freedesktop.Notifications: records (summary, body) of each notification.
#[derive(Clone, Default)]
struct Notifications {
    received: Arc<Mutex<Vec<(String, String)>>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Notifications {
    async fn get_capabilities(&self) -> Vec<String> {
        vec!["body".to_owned()]
    }

    #[expect(clippy::too_many_arguments, reason = "the specification's Notify signature")]
    async fn notify(
        &self,
        _app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        _actions: Vec<String>,
        _hints: HashMap<String, OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut received = self.received.lock().expect("lock");
        received.push((summary, body));
        received.len() as u32
    }

    async fn close_notification(&self, _id: u32) {}

    async fn get_server_information(&self) -> (String, String, String, String) {
        ("test".to_owned(), "knock".to_owned(), "1".to_owned(), "1.2".to_owned())
    }
}

/// The test's side of the bus: a watcher (unless `with_watcher` is false) and a notification server.
struct Host {
    runtime: tokio::runtime::Runtime,
    conn: zbus::Connection,
    watcher: Watcher,
    notifications: Notifications,
}

impl Host {
    fn serve(bus: &str, with_watcher: bool) -> Host {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("rt");
        let (watcher, notifications) = (Watcher::default(), Notifications::default());
        let conn = runtime.block_on(async {
            let mut builder = zbus::connection::Builder::address(bus)
                .expect("address")
                .serve_at("/org/freedesktop/Notifications", notifications.clone())
                .expect("serve")
                .name("org.freedesktop.Notifications")
                .expect("name");
            if with_watcher {
                builder = builder
                    .serve_at("/StatusNotifierWatcher", watcher.clone())
                    .expect("serve")
                    .name("org.kde.StatusNotifierWatcher")
                    .expect("name");
            }
            builder.build().await.expect("the test's connection")
        });
        Host { runtime, conn, watcher, notifications }
    }

    fn items(&self) -> Vec<String> {
        self.watcher.items.lock().expect("lock").clone()
    }

    fn notifications(&self) -> Vec<(String, String)> {
        self.notifications.received.lock().expect("lock").clone()
    }

    /// The item's menu path (its Menu property), as a tray host reads it.
    fn menu_path(&self, item: &str) -> String {
        self.runtime.block_on(async {
            let reply = self
                .conn
                .call_method(
                    Some(item),
                    "/StatusNotifierItem",
                    Some("org.freedesktop.DBus.Properties"),
                    "Get",
                    &("org.kde.StatusNotifierItem", "Menu"),
                )
                .await
                .expect("the item's Menu property");
            let value: OwnedValue = reply.body().deserialize().expect("a variant");
            let path: zbus::zvariant::ObjectPath<'_> = Value::from(value).downcast().expect("an object path");
            path.to_string()
        })
    }

    /// The menu's top-level items as (id, label, enabled, type), read with dbusmenu's GetLayout.
    fn layout(&self, item: &str, menu: &str) -> Vec<MenuEntry> {
        self.runtime.block_on(async {
            let reply = self
                .conn
                .call_method(
                    Some(item),
                    menu,
                    Some("com.canonical.dbusmenu"),
                    "GetLayout",
                    &(0i32, -1i32, Vec::<String>::new()),
                )
                .await
                .expect("GetLayout");
            let (_revision, (_id, _props, children)): (u32, LayoutNode) = reply.body().deserialize().expect("a layout");
            children
                .into_iter()
                .map(|child| {
                    let (id, props, _children): LayoutNode = Value::from(child).downcast().expect("a menu item");
                    let text = |key: &str| {
                        props
                            .get(key)
                            .and_then(|v| String::try_from(v.try_clone().expect("clone")).ok())
                            .unwrap_or_default()
                    };
                    let enabled = props
                        .get("enabled")
                        .is_none_or(|v| bool::try_from(v.try_clone().expect("clone")).unwrap_or(true));
                    MenuEntry { id, label: text("label"), kind: text("type"), enabled }
                })
                .collect()
        })
    }

    /// A left click on the icon, as a tray host reports it (org.kde.StatusNotifierItem.Activate).
    fn activate(&self, item: &str) {
        self.runtime.block_on(async {
            self.conn
                .call_method(
                    Some(item),
                    "/StatusNotifierItem",
                    Some("org.kde.StatusNotifierItem"),
                    "Activate",
                    &(0i32, 0i32),
                )
                .await
                .expect("Activate");
        });
    }

    /// Clicks menu item `id`, as a tray host does when the user picks it.
    fn click(&self, item: &str, menu: &str, id: i32) {
        self.runtime.block_on(async {
            self.conn
                .call_method(
                    Some(item),
                    menu,
                    Some("com.canonical.dbusmenu"),
                    "Event",
                    &(id, "clicked", Value::from(0i32), 0u32),
                )
                .await
                .expect("Event clicked");
        });
    }
}

/// A dbusmenu layout node: id, properties, children (each a variant holding a node).
type LayoutNode = (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>);

#[derive(Debug, Clone)]
struct MenuEntry {
    id: i32,
    label: String,
    kind: String,
    enabled: bool,
}

fn entry<'a>(entries: &'a [MenuEntry], label: &str) -> &'a MenuEntry {
    entries.iter().find(|e| e.label == label).unwrap_or_else(|| panic!("no item {label:?} in {entries:#?}"))
}

/// A variable no one sets: the "secret" profile's sequence, so its knock cannot start.
const UNSET_VAR: &str = "KNOCK_GUI_TRAY_TEST_NEVER_SET";

/// Three profiles, "web" (knocks two UDP sockets on loopback), "db", and "secret" (its sequence in an
/// unset variable: its knock cannot start); returns the sockets.
fn profiles(dir: &Path) -> Vec<UdpSocket> {
    let sockets: Vec<UdpSocket> = (0..2).map(|_| UdpSocket::bind("127.0.0.1:0").expect("udp")).collect();
    let ports: Vec<String> = sockets.iter().map(|s| format!("{}:udp", s.local_addr().expect("addr").port())).collect();
    let store = ProfileStore::new(dir);
    let web = Profile::new("127.0.0.1", Sequence::parse(&ports.join(","), Protocol::Udp).expect("sequence"));
    store.create("web", &web).expect("web");
    let db = Profile::new("127.0.0.1", Sequence::parse("1", Protocol::Udp).expect("sequence"));
    store.create("db", &db).expect("db");
    let mut secret = Profile::new("127.0.0.1", Sequence::parse("1", Protocol::Udp).expect("sequence"));
    if let Some(knock) = secret.sequence_mut() {
        knock.open = SequenceSource::Env(UNSET_VAR.into());
    }
    store.create("secret", &secret).expect("secret");
    sockets
}

/// Receives one datagram on each socket (each within the limit).
fn each_socket_got_a_hit(sockets: &[UdpSocket]) -> bool {
    let mut buf = [0u8; 64];
    sockets.iter().all(|s| {
        s.set_read_timeout(Some(LIMIT)).expect("timeout");
        s.recv_from(&mut buf).is_ok()
    })
}

#[test]
fn the_tray_lists_favourites_knocks_one_with_a_notification_hides_the_window_and_quits() {
    if skipped() {
        return;
    }
    let mut session = Session::start();
    let host = Host::serve(&session.bus, true);
    let profiles_dir = session.path("profiles");
    let sockets = profiles(&profiles_dir);
    session.save_state(&["web", "secret"], true);
    let app = session.knock_gui(&profiles_dir);

    // The item registers with the watcher, and its menu is what a tray host shows.
    let item = wait_for("knock-gui's item registers", || host.items().first().cloned());
    let menu = host.menu_path(&item);
    let entries = wait_for("the menu lists the favourite", || {
        let entries = host.layout(&item, &menu);
        entries.iter().any(|e| e.label.starts_with("web — ")).then_some(entries)
    });
    let labels: Vec<&str> = entries.iter().filter(|e| e.kind != "separator").map(|e| e.label.as_str()).collect();
    assert_eq!(
        labels,
        ["secret — not knocked yet", "web — not knocked yet", "Open knock", "Quit"],
        "only favourites, then the two actions"
    );
    assert!(entries.iter().all(|e| e.enabled), "{entries:#?}");
    // The window has the keyboard focus: the tray's results are notified even so.
    let window = wait_for("the window is shown", || session.visible_windows().first().copied());
    session.xdotool(&["windowfocus", "--sync", &window.to_string()]).expect("focus the window");
    wait_for("the window has the focus", || {
        let focused = session.xdotool(&["getwindowfocus"])?;
        (focused.trim() == window.to_string()).then_some(())
    });

    // A click on the favourite knocks it: its datagrams arrive, its result is a notification and the
    // menu's outcome.
    host.click(&item, &menu, entry(&entries, "web — not knocked yet").id);
    assert!(each_socket_got_a_hit(&sockets), "the tray's knock sent its hits");
    let (summary, body) = wait_for("the result's notification", || host.notifications().first().cloned());
    assert_eq!(summary, "web: knocked");
    assert!(body.starts_with("knocked 127.0.0.1 (2 hits sent"), "{body}");
    wait_for("the menu shows the outcome", || {
        host.layout(&item, &menu).iter().any(|e| e.label == "web — knocked").then_some(())
    });

    // A favourite whose knock cannot start says why in a notification too (the window may be hidden).
    host.click(&item, &menu, entry(&entries, "secret — not knocked yet").id);
    let (summary, body) = wait_for("the failure's notification", || host.notifications().get(1).cloned());
    assert_eq!(summary, "secret: not knocked");
    assert!(body.contains(UNSET_VAR), "{body}");
    assert_eq!(host.notifications().len(), 2, "one notification per tray knock");

    // Keep in tray: closing the window hides it and the app runs on; Open knock shows it again.
    session.close_windows();
    wait_for("the window is hidden", || session.visible_windows().is_empty().then_some(()));
    std::thread::sleep(Duration::from_millis(500));
    assert!(session.exited(app).is_none(), "closing the window kept the app in the tray");
    let entries = host.layout(&item, &menu);
    host.click(&item, &menu, entry(&entries, "Open knock").id);
    let shown = session.wait_until(|s| !s.visible_windows().is_empty());
    assert!(shown, "Open knock shows the window: {:?}; {}", session.exited(app), session.stderr());

    // A left click on the icon (the host calls the item's Activate) also shows the hidden window.
    session.close_windows();
    wait_for("the window is hidden again", || session.visible_windows().is_empty().then_some(()));
    host.activate(&item);
    wait_for("a click on the icon shows the window", || (!session.visible_windows().is_empty()).then_some(()));

    // Quit ends the process (no door with a close sequence was opened: nothing to ask).
    host.click(&item, &menu, entry(&entries, "Quit").id);
    let status = session.wait_exit(app, "Quit ends knock-gui");
    assert!(status.success(), "{status}: {}", session.stderr());
    assert!(!session.stderr().contains("no tray icon"), "{}", session.stderr());
}

#[test]
fn without_a_tray_host_the_app_says_so_once_runs_on_and_closing_quits() {
    if skipped() {
        return;
    }
    let mut session = Session::start();
    // A session bus with a notification server but no StatusNotifierWatcher: a desktop with no tray.
    let _host = Host::serve(&session.bus, false);
    let profiles_dir = session.path("profiles");
    let _sockets = profiles(&profiles_dir);
    session.save_state(&["web"], true);
    let app = session.knock_gui(&profiles_dir);

    wait_for("the window is shown", || (!session.visible_windows().is_empty()).then_some(()));
    wait_for("knock-gui says there is no tray", || session.stderr().contains("no tray icon").then_some(()));
    std::thread::sleep(Duration::from_secs(2));
    assert!(session.exited(app).is_none(), "the app runs on without a tray: {}", session.stderr());
    let stderr = session.stderr();
    assert_eq!(stderr.matches("no tray icon").count(), 1, "said once: {stderr}");
    assert!(stderr.contains("StatusNotifierWatcher"), "says why: {stderr}");

    // The keep-in-tray setting is on, but with no tray closing the window quits (nothing left unreachable).
    session.close_windows();
    let status = session.wait_exit(app, "closing the window quits");
    assert!(status.success(), "{status}: {}", session.stderr());
}

#[test]
fn when_the_tray_host_goes_away_a_hidden_window_is_shown_again_and_closing_then_quits() {
    if skipped() {
        return;
    }
    let mut session = Session::start();
    let host = Host::serve(&session.bus, true);
    let profiles_dir = session.path("profiles");
    let _sockets = profiles(&profiles_dir);
    session.save_state(&["web"], true);
    let app = session.knock_gui(&profiles_dir);
    wait_for("knock-gui's item registers", || host.items().first().cloned());
    wait_for("the window is shown", || (!session.visible_windows().is_empty()).then_some(()));
    session.close_windows();
    wait_for("the window is hidden in the tray", || session.visible_windows().is_empty().then_some(()));

    // The tray host leaves the bus (a panel restarted, or stopped): the window comes back.
    host.runtime.block_on(host.conn.release_name("org.kde.StatusNotifierWatcher")).expect("release the name");
    wait_for("the window is shown again", || (!session.visible_windows().is_empty()).then_some(()));
    assert!(session.stderr().contains("went away"), "says why: {}", session.stderr());

    // With no tray now, closing the window quits.
    session.close_windows();
    let status = session.wait_exit(app, "closing the window quits");
    assert!(status.success(), "{status}: {}", session.stderr());
}

#[test]
fn the_trays_quit_sends_close_sequences_first_and_then_quits_even_with_keep_in_tray() {
    if skipped() {
        return;
    }
    let mut session = Session::start();
    let host = Host::serve(&session.bus, true);
    let profiles_dir = session.path("profiles");
    // "gate" opens with a hit on one loopback socket and closes with a hit on another.
    let (open, close) = (UdpSocket::bind("127.0.0.1:0").expect("udp"), UdpSocket::bind("127.0.0.1:0").expect("udp"));
    let port = |s: &UdpSocket| format!("{}:udp", s.local_addr().expect("addr").port());
    let mut gate = Profile::new("127.0.0.1", Sequence::parse(&port(&open), Protocol::Udp).expect("sequence"));
    if let Some(knock) = gate.sequence_mut() {
        knock.close = Some(Sequence::parse(&port(&close), Protocol::Udp).expect("sequence").into());
    }
    ProfileStore::new(&profiles_dir).create("gate", &gate).expect("gate");
    session.save_state_with(&["gate"], true, "CloseDoors");
    let app = session.knock_gui(&profiles_dir);
    let item = wait_for("knock-gui's item registers", || host.items().first().cloned());
    let menu = host.menu_path(&item);
    let entries = wait_for("the menu lists gate", || {
        let entries = host.layout(&item, &menu);
        entries.iter().any(|e| e.label == "gate — not knocked yet").then_some(entries)
    });
    host.click(&item, &menu, entry(&entries, "gate — not knocked yet").id);
    assert!(each_socket_got_a_hit(std::slice::from_ref(&open)), "the door was opened from the tray");
    wait_for("the knock's notification", || host.notifications().first().cloned());

    // Quit: the close sequence goes out first (the quit policy), then the app ends; it does not stay
    // hidden in the tray, although closing the window would keep it there.
    let entries = host.layout(&item, &menu);
    host.click(&item, &menu, entry(&entries, "Quit").id);
    assert!(each_socket_got_a_hit(std::slice::from_ref(&close)), "the close sequence was sent");
    let status = session.wait_exit(app, "Quit ends knock-gui after the close sequence");
    assert!(status.success(), "{status}: {}", session.stderr());
}
