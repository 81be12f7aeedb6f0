//! On glibc Linux, knock-cli needs libc and nothing else at run time: no libgcc_s (build.rs links the
//! unwinder statically), no libm (src/libm_pow.rs), no libdbus (the keyring speaks D-Bus in Rust). Each
//! shared library costs about 0.1 ms of every start-up, so one coming back is a regression this names.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn knock_cli_needs_libc_only() {
    let binary = env!("CARGO_BIN_EXE_knock-cli");
    let output = std::process::Command::new("readelf")
        .args(["--dynamic", "--wide", binary])
        .output()
        .expect("readelf (binutils) runs");
    assert!(output.status.success(), "readelf failed: {}", String::from_utf8_lossy(&output.stderr));
    let dynamic = String::from_utf8_lossy(&output.stdout);
    let needed: Vec<&str> = dynamic
        .lines()
        .filter(|line| line.contains("(NEEDED)"))
        .filter_map(|line| line.split('[').nth(1)?.split(']').next())
        .collect();
    let unexpected: Vec<&&str> =
        needed.iter().filter(|lib| !lib.starts_with("libc.so") && !lib.starts_with("ld-linux")).collect();
    assert!(
        unexpected.is_empty(),
        "knock-cli ({binary}) needs {unexpected:?} besides libc; all NEEDED entries: {needed:?}.\n\
         libgcc_s: is libgcc_eh.a installed (client-cli/build.rs)? libm: a new libm function is used \
         (see src/libm_pow.rs)."
    );
}
