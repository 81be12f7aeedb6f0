//! The layering rules of `docs/architecture.md`, checked on the sources (a rule that only a reviewer
//! remembers is broken by the first hurried change):
//! - client-core's model (`profile.rs`, `settings.rs`, `sequence.rs`, `rotating.rs`, `knockd_conf.rs`)
//!   imports no engine module: it is data and parsing, and the engine depends on it, never the reverse;
//! - client-core's `spa/` is a pure codec: it imports only its own files, the sequence model and its
//!   crypto and encoding crates (no profile, keyring, network or runtime);
//! - knock-server's door logic (`doors.rs`, `attempts.rs`, `schedule.rs`, `sweep_guard.rs`) is pure: no
//!   capture, commands, files, clock-reading services or OS calls, so it is tested without a network;
//! - knock-gui's `ui/` only draws: it reads the app state (never `&mut AppState`, never assigns to it)
//!   and returns commands that `app/command.rs` applies, and never starts a process, a thread, a knock
//!   or a keyring call itself.
//!
//! What a file imports is read from its `use` items and its `crate::`/`super::` paths, outside comments
//! and outside its `#[cfg(test)]` module (tests may reach across layers to set things up).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace holds tests/").to_path_buf()
}

/// The file's code without comments, string contents and its test module.
fn code_of(path: &Path) -> String {
    code_of_text(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display())))
}

fn code_of_text(text: &str) -> String {
    let mut code = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        // A test module runs only under `cargo test`; everything after it in the file is tests too.
        if trimmed.starts_with("#[cfg(test)]") {
            let next = lines.peek().map(|l| l.trim_start()).unwrap_or_default();
            if next.starts_with("mod ") || next.starts_with("#[path") {
                break;
            }
        }
        if trimmed.starts_with("//") {
            continue;
        }
        code.push_str(strip_strings(line.split(" // ").next().unwrap_or_default()).as_str());
        code.push('\n');
    }
    code
}

/// Blanks the contents of string literals, so a message that names a module is not an import.
fn strip_strings(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in line.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
                out.push('"');
            }
            continue;
        }
        if c == '"' {
            in_string = true;
        }
        out.push(c);
    }
    out
}

/// The crates a package may name: its dependencies (from its Cargo.toml, `-` as `_`) and std.
fn crate_names(package: &str) -> BTreeSet<String> {
    let manifest = workspace().join(package).join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap_or_else(|e| panic!("cannot read {}: {e}", manifest.display()));
    let mut names: BTreeSet<String> = ["std", "core", "alloc"].map(str::to_owned).into();
    let mut in_dependencies = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_dependencies = line.ends_with("dependencies]") && !line.contains("dev-dependencies");
            continue;
        }
        if in_dependencies && !line.starts_with('#') {
            let name: String =
                line.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
            if !name.is_empty() {
                names.insert(name.replace('-', "_"));
            }
        }
    }
    // Packages whose library is named otherwise than the package.
    if names.remove("md_5") {
        names.insert("md5".to_owned());
    }
    names
}

/// Every `crate::NAME` the code names, and every `CRATE::MODULE` it names of the crates in `known`
/// (`std::fs`, `libc::geteuid`, `tokio::time`), whether in a `use` item or a qualified path.
fn imports(code: &str, known: &BTreeSet<String>) -> (BTreeSet<String>, BTreeSet<String>) {
    let ident = |s: &str| s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>();
    let mut internal = BTreeSet::new();
    let mut external = BTreeSet::new();
    for (at, _) in code.match_indices("::") {
        let start = code[..at].rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map_or(0, |i| i + 1);
        let root = &code[start..at];
        // Only a path's first segment: `a::std::x` does not name std.
        if code[..start].ends_with("::") {
            continue;
        }
        let next = ident(&code[at + 2..]);
        if root == "crate" {
            internal.insert(next);
        } else if known.contains(root) {
            external.insert(if next.is_empty() { root.to_owned() } else { format!("{root}::{next}") });
        }
    }
    (internal, external)
}

fn files(dir: &str, names: &[&str]) -> Vec<PathBuf> {
    let dir = workspace().join(dir);
    if names.is_empty() {
        let mut all: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
            .collect();
        all.sort();
        all
    } else {
        names.iter().map(|name| dir.join(name)).collect()
    }
}

/// Fails with every offending file and what it imports.
fn check(
    rule: &str,
    package: &str,
    paths: &[PathBuf],
    offends: impl Fn(&BTreeSet<String>, &BTreeSet<String>) -> Vec<String>,
) {
    let known = crate_names(package);
    let mut problems = Vec::new();
    for path in paths {
        let (internal, external) = imports(&code_of(path), &known);
        for what in offends(&internal, &external) {
            problems.push(format!("{}: {what}", path.strip_prefix(workspace()).unwrap_or(path).display()));
        }
    }
    assert!(problems.is_empty(), "{rule}:\n{}", problems.join("\n"));
}

#[test]
fn client_core_model_imports_no_engine_module() {
    const MODEL: [&str; 6] = ["profile", "settings", "sequence", "rotating", "knockd_conf", "spa"];
    let paths =
        files("client-core/src", &["profile.rs", "settings.rs", "sequence.rs", "rotating.rs", "knockd_conf.rs"]);
    check(
        "the model imports only the model (and the spa codec's types)",
        "client-core",
        &paths,
        |internal, external| {
            let mut bad: Vec<String> = internal
                .iter()
                .filter(|m| !MODEL.contains(&m.as_str()))
                .map(|m| format!("imports crate::{m}"))
                .collect();
            bad.extend(
                external
                    .iter()
                    .filter(|e| {
                        ["tokio", "socket2", "keyring", "libc", "nix", "rustix", "ureq"]
                            .iter()
                            .any(|x| e.starts_with(x))
                    })
                    .map(|e| format!("uses {e}")),
            );
            bad
        },
    );
}

#[test]
fn spa_is_a_pure_codec() {
    const CODEC_CRATES: [&str; 12] =
        ["std", "aes", "base64", "cbc", "hmac", "md5", "sha1", "sha2", "sha3", "zeroize", "thiserror", "getrandom"];
    let paths = files("client-core/src/spa", &[]);
    assert!(paths.len() >= 10, "spa/ has its files: {paths:?}");
    check(
        "spa/ imports only its own files, the sequence model and its codec crates",
        "client-core",
        &paths,
        |internal, external| {
            let mut bad: Vec<String> = internal
                .iter()
                .filter(|m| !["spa", "sequence"].contains(&m.as_str()))
                .map(|m| format!("imports crate::{m}"))
                .collect();
            bad.extend(
                external
                    .iter()
                    .map(|e| e.split("::").next().unwrap_or_default())
                    .filter(|root| !CODEC_CRATES.contains(root) && !matches!(*root, "core" | "alloc"))
                    .map(|root| format!("uses {root}")),
            );
            bad.extend(
                external
                    .iter()
                    .filter(|e| ["std::fs", "std::process", "std::thread", "std::env", "std::io"].contains(&e.as_str()))
                    .map(|e| format!("does I/O through {e}")),
            );
            bad
        },
    );
}

#[test]
fn the_servers_door_logic_is_pure() {
    const IO_MODULES: [&str; 14] = [
        "capture",
        "server",
        "actions",
        "log",
        "run",
        "signals",
        "pid_file",
        "privileges",
        "state_file",
        "one_time",
        "rotating_used",
        "check",
        "addresses",
        "nft",
    ];
    let paths = files("server-mini/src", &["doors.rs", "attempts.rs", "schedule.rs", "sweep_guard.rs", "spa_door.rs"]);
    check(
        "doors, attempts, schedule, the sweep guard and the SPA door do no I/O",
        "server-mini",
        &paths,
        |internal, external| {
            let mut bad: Vec<String> = internal
                .iter()
                .filter(|m| IO_MODULES.contains(&m.as_str()))
                .map(|m| format!("imports crate::{m}"))
                .collect();
            bad.extend(
                external
                    .iter()
                    .filter(|e| {
                        [
                            "libc",
                            "pcap",
                            "nix",
                            "rustix",
                            "std::fs",
                            "std::process",
                            "std::thread",
                            "std::io",
                            "std::env",
                        ]
                        .iter()
                        .any(|x| e.starts_with(x))
                    })
                    .map(|e| format!("uses {e}")),
            );
            bad
        },
    );
}

#[test]
fn the_gui_ui_only_draws() {
    let paths = files("client-gui/src/ui", &[]);
    assert!(paths.len() >= 5, "ui/ has its files: {paths:?}");
    check(
        "ui/ draws and returns commands for app/ to apply; it starts nothing itself",
        "client-gui",
        &paths,
        |internal, external| {
            let mut bad: Vec<String> = internal
                .iter()
                .filter(|m| ["desktop", "worker", "notify", "transfer"].contains(&m.as_str()))
                .map(|m| format!("calls crate::{m}"))
                .collect();
            bad.extend(
                external
                    .iter()
                    .filter(|e| {
                        ["std::process", "std::thread", "std::fs", "std::net", "tokio", "keyring"]
                            .iter()
                            .any(|x| e.starts_with(x))
                    })
                    .map(|e| format!("uses {e}")),
            );
            bad
        },
    );
}

/// What in `code` (comments, strings and tests left out) would let drawing change the app state: a
/// `&mut AppState` (by any path), a `&mut state.…` borrow, or an assignment to `state.…`. (The view's own
/// `ViewState` is the view's to change.)
fn state_writes(code: &str) -> Vec<String> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    // Whitespace only where it separates two words (`&mut AppState`, `state.a=b`).
    let mut code_text = String::with_capacity(code.len());
    let mut chars = code.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            if code_text.ends_with(ident) && chars.peek().is_some_and(|c| ident(*c)) {
                code_text.push(' ');
            }
        } else {
            code_text.push(c);
        }
    }
    let code = code_text;
    let mut found = Vec::new();
    for (at, _) in code.match_indices("AppState") {
        // `&mut AppState`, `&mut crate::app::AppState`, ...: the path's segments before it left out.
        let mut before = &code[..at];
        while let Some(segment) = before.strip_suffix("::") {
            before = segment.trim_end_matches(ident);
        }
        if before.trim_end().ends_with("&mut") && !code[at + "AppState".len()..].starts_with(ident) {
            found.push("takes &mut AppState".to_owned());
        }
    }
    for (at, _) in code.match_indices("state.") {
        let borrowed = code[..at].trim_end().ends_with("&mut");
        if !borrowed && code[..at].ends_with(|c: char| ident(c) || c == '.') {
            continue;
        }
        let path: String = code[at..].chars().take_while(|c| ident(*c) || *c == '.').collect();
        let rest = &code[at + path.len()..];
        let assigns = (rest.starts_with('=') && !rest.starts_with("=="))
            || ["+=", "-=", "*=", "/=", "|=", "&="].iter().any(|op| rest.starts_with(op));
        if assigns {
            found.push(format!("assigns to {path}"));
        }
        if borrowed {
            found.push(format!("borrows &mut {path}"));
        }
    }
    found
}

/// The UI reads the state and returns commands (issue 24, Structure): one place, `AppState::apply`,
/// changes the state, whatever asked (a click, a key, a tray menu); tests drive it without a window.
#[test]
fn the_gui_ui_reads_the_state_and_returns_commands() {
    let paths = files("client-gui/src/ui", &[]);
    assert!(paths.len() >= 5, "ui/ has its files: {paths:?}");
    let mut problems = Vec::new();
    for path in &paths {
        for what in state_writes(&code_of(path)) {
            problems.push(format!("{}: {what}", path.strip_prefix(workspace()).unwrap_or(path).display()));
        }
    }
    assert!(
        problems.is_empty(),
        "ui/ changes the app state itself (return a Command instead):\n{}",
        problems.join("\n")
    );
    let draw = code_of(&workspace().join("client-gui/src/ui/mod.rs"));
    assert!(
        draw.contains("pub fn draw(state: &AppState,") && draw.contains("-> Commands"),
        "ui::draw takes &AppState and returns the frame's commands"
    );
}

/// knock-gui imports through client-core's import only (issue 24, Structure): it reads a file with
/// `import_path`/`import_backup` and writes the profiles and their keys with `write_import`, as
/// `knock-cli profile import` does; it never parses a profile file or creates the imported profiles itself.
#[test]
fn the_gui_imports_through_client_core_only() {
    let mut problems = Vec::new();
    let mut paths = files("client-gui/src", &[]);
    paths.extend(files("client-gui/src/app", &[]));
    paths.extend(files("client-gui/src/ui", &[]));
    for path in &paths {
        let code = code_of(path);
        let name = path.strip_prefix(workspace()).unwrap_or(path).display().to_string();
        for parser in ["toml::from_str", "toml::de", "from_str::<Profile"] {
            if code.contains(parser) {
                problems.push(format!("{name}: parses a profile itself ({parser})"));
            }
        }
        let imports = name.ends_with("transfer.rs") || name.ends_with("import_export.rs");
        if imports
            && ["store.create(", "store().create(", "store.save(", "store().save("].iter().any(|w| code.contains(w))
        {
            problems.push(format!("{name}: writes imported profiles itself instead of client_core::write_import"));
        }
    }
    let transfer = code_of(&workspace().join("client-gui/src/transfer.rs"));
    for function in ["client_core::write_import", "import_path", "client_core::import_backup"] {
        if !transfer.contains(function) {
            problems.push(format!("client-gui/src/transfer.rs: does not use {function}"));
        }
    }
    assert!(problems.is_empty(), "knock-gui's import is not client-core's:\n{}", problems.join("\n"));
}

#[test]
fn the_state_write_check_sees_what_drawing_must_not_do() {
    let code = code_of_text(
        "fn a(state: &mut AppState) {}\nfn b(s: &mut crate::app::AppState) {}\nfn c(state: &AppState) {\n    \
         state.notice = None;\n    state.list.search += \"x\";\n    let _ = &mut state.search;\n    \
         let _ = state.a == state.b;\n    output.state.offset = 1.0;\n    view.focus = true;\n}\n",
    );
    assert_eq!(
        state_writes(&code),
        [
            "takes &mut AppState",
            "takes &mut AppState",
            "assigns to state.notice",
            "assigns to state.list.search",
            "borrows &mut state.search"
        ]
    );
}

#[test]
fn the_check_sees_use_items_and_qualified_paths_but_not_comments_strings_or_tests() {
    let code = code_of_text(
        "use tokio::time;\nfn f() {\n    let _ = libc::geteuid(); // crate::secrets\n    crate::knock::x();\n}\n\
         // crate::open in a comment\nconst S: &str = \"crate::doctor std::fs\";\n#[cfg(test)]\nmod tests {\n    use crate::store;\n}\n",
    );
    let (internal, external) = imports(&code, &crate_names("client-core"));
    assert_eq!(internal.into_iter().collect::<Vec<_>>(), ["knock"]);
    assert_eq!(external.into_iter().collect::<Vec<_>>(), ["libc::geteuid", "tokio::time"]);
}
