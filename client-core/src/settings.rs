//! How a knock is sent, as a profile or a command line states it: the address family and the send method.
//! Model types only (parsing and wording); the engine acts on them (`target` resolves within the family,
//! `send` picks the socket for the method).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use thiserror::Error;

/// A setting's text that is none of its valid values.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid {what} {given:?} (valid: {valid})")]
pub struct InvalidSetting {
    pub what: &'static str,
    pub given: String,
    pub valid: &'static str,
}

/// Which address family a knock may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AddressFamily {
    /// The resolver's order decides (RFC 6724: usually IPv6 first when it is routable).
    #[default]
    Any,
    V4,
    V6,
    /// Each family the host has: the host's first IPv4 and first IPv6 address are each knocked and
    /// verified (`open/` runs one knock per family). A single knock takes the resolver's first.
    Both,
}

impl AddressFamily {
    pub fn as_str(self) -> &'static str {
        match self {
            AddressFamily::Any => "any",
            AddressFamily::V4 => "ipv4",
            AddressFamily::V6 => "ipv6",
            AddressFamily::Both => "both",
        }
    }

    pub fn accepts(self, addr: &IpAddr) -> bool {
        match self {
            AddressFamily::Any | AddressFamily::Both => true,
            AddressFamily::V4 => addr.is_ipv4(),
            AddressFamily::V6 => addr.is_ipv6(),
        }
    }
}

impl fmt::Display for AddressFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AddressFamily {
    type Err = InvalidSetting;
    fn from_str(s: &str) -> Result<Self, InvalidSetting> {
        match s.to_ascii_lowercase().as_str() {
            "any" => Ok(AddressFamily::Any),
            "ipv4" | "4" | "inet" => Ok(AddressFamily::V4),
            "ipv6" | "6" | "inet6" => Ok(AddressFamily::V6),
            "both" => Ok(AddressFamily::Both),
            _ => Err(InvalidSetting { what: "address family", given: s.to_owned(), valid: "any, ipv4, ipv6, both" }),
        }
    }
}

/// The send method a knock asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Method {
    /// `raw` where this process may open raw sockets, else `connect`.
    #[default]
    Auto,
    Raw,
    Connect,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Auto => "auto",
            Method::Raw => "raw",
            Method::Connect => "connect",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Method {
    type Err = InvalidSetting;
    fn from_str(s: &str) -> Result<Method, InvalidSetting> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Method::Auto),
            "raw" => Ok(Method::Raw),
            "connect" => Ok(Method::Connect),
            _ => Err(InvalidSetting { what: "send method", given: s.to_owned(), valid: "auto, raw, connect" }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_and_method_names_parse_and_errors_list_the_valid_ones() {
        assert_eq!("IPv6".parse::<AddressFamily>(), Ok(AddressFamily::V6));
        assert_eq!("both".parse::<AddressFamily>(), Ok(AddressFamily::Both));
        let e = "ipx".parse::<AddressFamily>().expect_err("bad").to_string();
        assert_eq!(e, "invalid address family \"ipx\" (valid: any, ipv4, ipv6, both)");
        assert_eq!("RAW".parse::<Method>(), Ok(Method::Raw));
        let e = "smoke".parse::<Method>().expect_err("bad").to_string();
        assert_eq!(e, "invalid send method \"smoke\" (valid: auto, raw, connect)");
    }
}
