//! docs/rotating-sequences.md is enough to interoperate: its test vectors hold for the Rust derivation and
//! for an independent implementation written from the document with Python's standard library
//! (tests/reference/rotating.py), and the two agree on a sweep of other keys, doors, times and parameters.

use std::path::Path;
use std::process::Command;

use client_core::Protocol;
use client_core::rotating::{DoorKey, Rotation};

struct Row {
    key: String,
    door: String,
    unix_time: u64,
    step: u64,
    window: u64,
    length: usize,
    range: (u16, u16),
    protocols: String,
    exclude: String,
    sequence: String,
}

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// The vector table of the document, keys resolved from its `K1 = ...` definitions.
fn documented_vectors() -> Vec<Row> {
    let doc = std::fs::read_to_string(repo("docs/rotating-sequences.md")).expect("the document");
    let key_of = |name: &str| {
        let marker = format!("`{name} = ");
        let start = doc.find(&marker).unwrap_or_else(|| panic!("{name} is defined")) + marker.len();
        doc[start..].split('`').next().expect("key").to_owned()
    };
    let section = doc.split("## Test vectors").nth(1).expect("a vector section");
    let rows: Vec<Row> = section
        .lines()
        .filter(|l| l.starts_with("| K"))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let (lo, hi) = cells[6].split_once('-').expect("range");
            Row {
                key: key_of(cells[0]),
                door: cells[1].to_owned(),
                unix_time: cells[2].parse().expect("time"),
                step: cells[3].parse().expect("step"),
                window: cells[4].parse().expect("window"),
                length: cells[5].parse().expect("length"),
                range: (lo.parse().expect("lo"), hi.parse().expect("hi")),
                protocols: cells[7].to_owned(),
                exclude: cells[8].to_owned(),
                sequence: cells[9].to_owned(),
            }
        })
        .collect();
    assert!(rows.len() >= 5, "at least five vectors");
    rows
}

fn rust(row: &Row) -> (u64, String) {
    let mut rotation = Rotation::new(row.door.clone());
    rotation.step = row.step;
    rotation.length = row.length;
    rotation.range = row.range;
    if row.protocols != "-" {
        rotation.protocols = row.protocols.split(',').map(|p| p.parse::<Protocol>().expect("protocol")).collect();
    }
    if row.exclude != "-" {
        rotation.exclude = row.exclude.split(',').map(|p| p.parse().expect("port")).collect();
    }
    let key = DoorKey::from_base32(&row.key).expect("key");
    let window = rotation.window(row.unix_time);
    (window, rotation.sequence(&key, window).expect("sequence").to_string())
}

fn python(row: &Row) -> (u64, String) {
    let out = Command::new("python3")
        .arg(repo("tests/reference/rotating.py"))
        .args([
            row.key.as_str(),
            row.door.as_str(),
            &row.unix_time.to_string(),
            &row.step.to_string(),
            &row.length.to_string(),
            &format!("{}-{}", row.range.0, row.range.1),
            row.protocols.as_str(),
            row.exclude.as_str(),
        ])
        .output()
        .expect("python3 runs (scripts/install-deps.sh installs it)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (window, sequence) = text.trim().split_once(' ').expect("WINDOW SEQUENCE");
    (window.parse().expect("window"), sequence.to_owned())
}

#[test]
fn the_documented_vectors_hold_for_both_implementations() {
    for row in documented_vectors() {
        let expected = (row.window, row.sequence.clone());
        assert_eq!(rust(&row), expected, "Rust, door {} at {}", row.door, row.unix_time);
        assert_eq!(python(&row), expected, "Python, door {} at {}", row.door, row.unix_time);
    }
}

#[test]
fn both_implementations_agree_on_a_sweep_of_parameters() {
    // A fixed-seed generator: the sweep is the same on every run.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for case in 0..30 {
        let key_bytes: Vec<u8> = (0..16 + next() % 17).map(|_| (next() & 0xff) as u8).collect();
        let key = data_encoding_base32(&key_bytes);
        let length = 1 + (next() % 8) as usize;
        let lo = 1 + (next() % 60000) as u16;
        let span = (length as u16 + 1) + (next() % 3000) as u16;
        let hi = lo.saturating_add(span);
        let protocols = if case % 2 == 0 {
            "-".to_owned()
        } else {
            (0..length).map(|k| if (next() >> k) & 1 == 0 { "tcp" } else { "udp" }).collect::<Vec<_>>().join(",")
        };
        let row = Row {
            key,
            door: format!("door-{case}-ü"),
            unix_time: next() % 4_000_000_000,
            step: 1 + next() % 300,
            window: 0,
            length,
            range: (lo, hi),
            protocols,
            exclude: format!("{lo}"),
            sequence: String::new(),
        };
        assert_eq!(rust(&row), python(&row), "case {case}: key {} door {}", row.key, row.door);
    }
}

/// RFC 4648 base32 without padding (the document's key format), written out here so the sweep does not
/// depend on the implementation under test.
fn data_encoding_base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            out.push(ALPHABET[((buffer >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}
