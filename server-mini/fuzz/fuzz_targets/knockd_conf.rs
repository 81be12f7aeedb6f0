//! Any text through client-core's knockd.conf parser, the door helpers, and (when it parses) server-mini's
//! config checks and lint. Errors are fine; panics are not.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let conf = match client_core::knockd_conf::parse(&text) {
        Ok(conf) => conf,
        Err(err) => {
            let _ = err.to_string();
            return;
        }
    };
    let _ = conf.check_keys().map_err(|err| err.to_string());
    let _ = conf.use_syslog();
    let _ = conf.option("Interface");
    for door in &conf.doors {
        let _ = door.to_string();
        let _ = conf.door(&door.name);
        match door.sequence() {
            Ok(Some(sequence)) => {
                let _ = sequence.to_string();
            }
            Ok(None) => {}
            Err(err) => {
                let _ = err.to_string();
            }
        }
        match door.tcp_flags() {
            Ok(Some(flags)) => {
                let _ = (flags.to_string(), flags.sendable());
            }
            Ok(None) => {}
            Err(err) => {
                let _ = err.to_string();
            }
        }
        for key in ["Seq_Timeout", "Timeout", "Cmd_Timeout", "Nft_Timeout"] {
            let _ = door.seconds(key).map_err(|err| err.to_string());
        }
        let _ = door.unknown_keys().count();
    }
    // server-mini's view of the same file (pure: One_Time_Sequences files are named, not read).
    // Numbers out of range and bad Nft_Set values must be errors, never panics.
    if let Ok(config) = server_mini::config_from_conf(&conf, Path::new("/etc/knockd.conf")) {
        let _ = server_mini::lint_config(&config, &conf);
        for nft in config.doors.iter().filter_map(|door| door.nft.as_ref()) {
            let sets = nft.sets();
            let _ = server_mini::nft_ruleset(&sets);
            for (set, _) in &sets {
                let _ = set.refresh_batch("192.0.2.1".parse().expect("ip"), nft.timeout);
            }
        }
    }
});
