//! The UDP hit: one datagram (by default a single zero byte, as knock(1) sends) from a fresh socket.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

pub(super) fn send_datagram(to: SocketAddr, local: Option<SocketAddr>, payload: &[u8]) -> io::Result<()> {
    let socket = Socket::new(Domain::for_address(to), Type::DGRAM, Some(Protocol::UDP))?;
    if let Some(local) = local {
        socket.set_reuse_address(true)?;
        socket.bind(&local.into())?;
    }
    let sent = socket.send_to(payload, &to.into())?;
    if sent != payload.len() {
        return Err(io::Error::other(format!("sent {sent} of {} payload bytes", payload.len())));
    }
    Ok(())
}
