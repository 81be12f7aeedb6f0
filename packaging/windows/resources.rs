// The Windows resources of knock-gui.exe and knock-cli.exe, written into each by its crate's build.rs
// (`include!`d there, so both get the same icon and manifest):
// - the icon, packaging/knock-gui.ico (made by packaging/render-icon-png.py): Explorer, the taskbar, the
//   MSI's Start menu shortcut and Add/Remove Programs show it;
// - the application manifest, packaging/windows/knock.exe.manifest (DPI awareness, common controls v6,
//   long paths, Windows 10/11 compatibility, asInvoker);
// - version info: the crate's version, and the names in its [package.metadata.winresource].
// By winresource, which runs the toolchain's resource compiler: rc.exe from the Windows SDK for MSVC on
// Windows, x86_64-w64-mingw32-windres for the mingw build on Linux, llvm-rc for the MSVC check on Linux
// (scripts/check-platforms.sh). A failure stops the build: a Windows .exe never ships without them.

/// Compiles and links the resources into the binary `binary` when the target is Windows.
fn windows_resources(binary: &str) {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("windows") {
        return;
    }
    let packaging = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default()).join("../packaging");
    let icon = packaging.join("knock-gui.ico");
    let manifest = packaging.join("windows/knock.exe.manifest");
    for input in [&icon, &manifest] {
        println!("cargo:rerun-if-changed={}", input.display());
    }
    let mut resources = winresource::WindowsResource::new();
    resources.set_icon(&icon.to_string_lossy()).set_manifest_file(&manifest.to_string_lossy());
    if let Err(err) = resources.compile_for(binary) {
        panic!("the Windows resources of {binary} (icon, manifest, version info) did not compile: {err}");
    }
}
