//! knock-server (in progress).

pub mod packet;
