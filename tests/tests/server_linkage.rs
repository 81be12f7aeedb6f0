//! knock-server links only what it uses: its own NEEDED entries (`readelf -d`) are libpcap, libgcc_s,
//! libc and the dynamic loader. (`ldd` also lists libdbus-1 and its chain, but only because Debian's
//! libpcap0.8 itself NEEDs libdbus-1 for its D-Bus capture module; nothing of the client stack,
//! keyring, D-Bus or TLS, is linked by knock-server; its SPA door uses the pure-Rust codec.)
#![cfg(target_os = "linux")]

use knock_e2e::knock_server::knock_server_path;

#[test]
fn knock_server_needs_only_libpcap_and_the_c_runtime() {
    let binary = knock_server_path().unwrap_or_else(|e| panic!("{e}"));
    let out = std::process::Command::new("readelf")
        .arg("-d")
        .arg(&binary)
        .output()
        .unwrap_or_else(|e| panic!("readelf (binutils) must be installed: {e}"));
    assert!(out.status.success(), "readelf -d {}: {}", binary.display(), String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut needed: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split_once('[').and_then(|(_, rest)| rest.split_once(']')).map(|(name, _)| name))
        .collect();
    needed.sort_unstable();
    let loader = needed.iter().copied().find(|n| n.starts_with("ld-linux")).unwrap_or("ld-linux-*.so.2 (missing)");
    let mut expected = vec!["libpcap.so.0.8", "libgcc_s.so.1", "libc.so.6", loader];
    expected.sort_unstable();
    assert_eq!(needed, expected, "knock-server's own NEEDED entries\n{text}");
}
