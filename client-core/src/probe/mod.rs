//! Probing what happens to our packets on the way: the ICMP errors that came back for UDP datagrams
//! ([`icmp_errors`]: did a hit arrive, or where was it dropped?) and the measured path MTU ([`path_mtu`]:
//! does an SPA packet cross unfragmented?). `send` arms the error watch for UDP hits; `doctor` reads it
//! and measures the MTU. Linux only where the OS allows it; each file says why.

pub(crate) mod icmp_errors;
pub(crate) mod path_mtu;
