//! Every input through the packet parser under every link type: no panic, no out-of-bounds read (ASan), and
//! the outcome's invariants hold.
#![no_main]

use client_core::Protocol;
use libfuzzer_sys::fuzz_target;
use server_mini::{LinkType, Parsed, parse_frame};

fuzz_target!(|data: &[u8]| {
    for link in LinkType::ALL {
        match parse_frame(link, data) {
            Parsed::Hit(hit) => {
                assert_eq!(hit.flags.bits() & !0x3f, 0, "only the six classic TCP flags");
                if hit.protocol == Protocol::Udp {
                    assert!(hit.flags.is_empty(), "UDP has no flags");
                }
                assert_eq!(hit.src.is_ipv4(), hit.dst.is_ipv4(), "one address family per packet");
            }
            Parsed::Malformed(reason) => assert!(!reason.is_empty()),
            Parsed::NotKnock | Parsed::Fragment => {}
        }
    }
});
