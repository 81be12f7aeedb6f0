//! The UDP hit: one datagram (by default a single zero byte, as knock(1) sends) from a fresh socket.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

pub(super) fn send_datagram(to: SocketAddr, local: Option<SocketAddr>, payload: &[u8]) -> io::Result<()> {
    send_from(&open_socket(to, local)?, to, payload)
}

/// The socket a UDP hit goes out from (bound to `local` when the user asked for one).
pub(super) fn open_socket(to: SocketAddr, local: Option<SocketAddr>) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(to), Type::DGRAM, Some(Protocol::UDP))?;
    if let Some(local) = local {
        socket.set_reuse_address(true)?;
        socket.bind(&local.into())?;
    }
    Ok(socket)
}

pub(super) fn send_from(socket: &Socket, to: SocketAddr, payload: &[u8]) -> io::Result<()> {
    let sent = socket.send_to(payload, &to.into())?;
    if sent != payload.len() {
        return Err(io::Error::other(format!("sent {sent} of {} payload bytes", payload.len())));
    }
    Ok(())
}
