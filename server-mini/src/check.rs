//! `--check`: what would stop the server or weaken a door, before it runs. Errors (exit 1) are what
//! will fail at run time; warnings are legal but weak configurations ([`config::lint`]). For nftables
//! doors it asks the kernel whether the sets exist and prints the ruleset lines the door needs.

use client_core::knockd_conf::KnockdConf;

use crate::config::{self, ServerConfig};
use crate::exit::Failure;
use crate::nft::{NftFamilyUse, NftSet};

/// Prints the findings on stdout; Err when something will stop the server or a door.
pub fn check(config: &ServerConfig, conf: &KnockdConf) -> Result<(), Failure> {
    let file = config.path.display();
    let mut errors = Vec::new();
    let warnings = config::lint(config, conf);
    for w in &warnings {
        println!("{file}:{}: [{}]: warning: {}", w.line, w.door, w.message);
    }
    for door in &config.doors {
        let Some(nft) = &door.nft else { continue };
        let sets: Vec<(&NftSet, NftFamilyUse)> = [(&nft.set4, NftFamilyUse::Ipv4), (&nft.set6, NftFamilyUse::Ipv6)]
            .into_iter()
            .filter_map(|(set, family)| set.as_ref().map(|s| (s, family)))
            .collect();
        for (set, _) in &sets {
            match set.exists() {
                Ok(true) => println!("{file}:{}: [{}]: nft set {set} exists", door.line, door.name),
                Ok(false) => errors.push(format!(
                    "{file}:{}: [{}]: nft set {set} does not exist: the door cannot open until it does (ruleset below)",
                    door.line, door.name
                )),
                Err(why) => println!(
                    "{file}:{}: [{}]: warning: cannot verify nft set {set} ({why}); run --check as root to verify",
                    door.line, door.name
                ),
            }
        }
        println!("# nft ruleset for door [{}] (load with nft -f; the accept rules are examples for SSH):", door.name);
        for line in ruleset(&sets) {
            println!("{line}");
        }
    }
    for error in &errors {
        println!("{error}");
    }
    println!(
        "{file}: {} door(s), {} warning(s), {}",
        config.doors.len(),
        warnings.len(),
        if errors.is_empty() { "no errors".to_owned() } else { format!("{} error(s)", errors.len()) }
    );
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Failure::runtime(format!("{} error(s) found by --check", errors.len())))
    }
}

/// The nft lines that create the sets (grouped by table) and accept their members.
pub fn ruleset(sets: &[(&NftSet, NftFamilyUse)]) -> Vec<String> {
    let mut tables: Vec<String> = sets.iter().map(|(s, _)| s.table_header()).collect();
    tables.dedup();
    let mut lines = Vec::new();
    for table in tables {
        lines.push(format!("{table} {{"));
        let members: Vec<&(&NftSet, NftFamilyUse)> = sets.iter().filter(|(s, _)| s.table_header() == table).collect();
        for (set, family) in &members {
            lines.push(format!("    {}", set.definition(*family)));
        }
        lines.push("    chain knock_input {".to_owned());
        lines.push("        type filter hook input priority filter; policy accept;".to_owned());
        for (set, family) in &members {
            lines.push(format!("        {}", set.accept_rule(*family)));
        }
        lines.push("        tcp dport 22 drop".to_owned());
        lines.push("    }".to_owned());
        lines.push("}".to_owned());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ruleset_lines_define_both_sets_and_accept_their_members() {
        let v4 = NftSet::parse("inet knock allow4", NftFamilyUse::Ipv4).expect("v4");
        let v6 = NftSet::parse("inet knock allow6", NftFamilyUse::Ipv6).expect("v6");
        let text = ruleset(&[(&v4, NftFamilyUse::Ipv4), (&v6, NftFamilyUse::Ipv6)]).join("\n");
        assert_eq!(text.matches("table inet knock {").count(), 1, "{text}");
        assert!(text.contains("set allow4 { type ipv4_addr; flags timeout; }"), "{text}");
        assert!(text.contains("set allow6 { type ipv6_addr; flags timeout; }"), "{text}");
        assert!(text.contains("ip saddr @allow4 accept") && text.contains("ip6 saddr @allow6 accept"), "{text}");
    }
}
