//! Which address the SFU announces to browsers in its ICE candidates.
//!
//! Browsers send media to exactly the address in the candidate, so it must be one they can
//! reach: `MEDIA_PUBLIC_IP` when set (a server behind NAT must set it), else the address the
//! server is bound to, else (bound to every interface) the first interface that is neither
//! loopback nor link-local. The choice is logged at start.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The address to announce: see the module comment for the rules.
pub fn choose_public_ip(configured: Option<IpAddr>, bind: IpAddr, interfaces: &[IpAddr]) -> IpAddr {
    if let Some(ip) = configured {
        return ip;
    }
    if !bind.is_unspecified() {
        return bind;
    }
    let usable = |ip: &&IpAddr| !ip.is_loopback() && !ip.is_unspecified() && !is_link_local(ip);
    // A socket bound to 0.0.0.0 receives IPv4 only; `::` usually takes both, and more browsers
    // reach an IPv4 address.
    let first_v4 = interfaces.iter().filter(usable).find(|ip| ip.is_ipv4());
    let first_v6 = interfaces.iter().filter(usable).find(|ip| ip.is_ipv6());
    let chosen = if bind.is_ipv4() {
        first_v4
    } else {
        first_v4.or(first_v6)
    };
    match chosen {
        Some(ip) => *ip,
        None if bind.is_ipv4() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        None => IpAddr::V6(Ipv6Addr::LOCALHOST),
    }
}

fn is_link_local(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

/// The addresses of this machine's interfaces that are up, in the order the system lists them.
#[cfg(unix)]
pub fn interface_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: on success getifaddrs points `head` at a list that stays valid until the
    // freeifaddrs below; nothing here keeps a pointer into it.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return out;
    }
    let mut cursor = head;
    while !cursor.is_null() {
        // SAFETY: `cursor` is a non-null node of the list getifaddrs returned.
        let entry = unsafe { &*cursor };
        let up = entry.ifa_flags & (libc::IFF_UP as libc::c_uint) != 0;
        if up && !entry.ifa_addr.is_null() {
            // SAFETY: `ifa_addr` is non-null and points at a sockaddr whose family tells which
            // sockaddr_* it really is; each cast below matches the family checked.
            let family = i32::from(unsafe { (*entry.ifa_addr).sa_family });
            if family == libc::AF_INET {
                let sin = unsafe { &*(entry.ifa_addr as *const libc::sockaddr_in) };
                out.push(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                    sin.sin_addr.s_addr,
                ))));
            } else if family == libc::AF_INET6 {
                let sin6 = unsafe { &*(entry.ifa_addr as *const libc::sockaddr_in6) };
                out.push(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)));
            }
        }
        cursor = entry.ifa_next;
    }
    // SAFETY: `head` came from a successful getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    out
}

#[cfg(not(unix))]
pub fn interface_addresses() -> Vec<IpAddr> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_configured_address_wins_then_a_specific_bind_address() {
        let nics = [ip("127.0.0.1"), ip("10.0.0.5")];
        assert_eq!(
            choose_public_ip(Some(ip("203.0.113.9")), ip("0.0.0.0"), &nics),
            ip("203.0.113.9")
        );
        assert_eq!(
            choose_public_ip(None, ip("127.0.0.1"), &nics),
            ip("127.0.0.1")
        );
        assert_eq!(
            choose_public_ip(None, ip("192.168.1.20"), &nics),
            ip("192.168.1.20")
        );
    }

    #[test]
    fn a_wildcard_bind_announces_the_first_routable_interface_of_its_family() {
        let nics = [
            ip("127.0.0.1"),
            ip("::1"),
            ip("169.254.3.3"),
            ip("fe80::1"),
            ip("2001:db8::7"),
            ip("192.168.1.20"),
            ip("10.0.0.5"),
        ];
        assert_eq!(
            choose_public_ip(None, ip("0.0.0.0"), &nics),
            ip("192.168.1.20")
        );
        assert_eq!(choose_public_ip(None, ip("::"), &nics), ip("192.168.1.20"));
        assert_eq!(
            choose_public_ip(None, ip("::"), &[ip("fe80::1"), ip("2001:db8::7")]),
            ip("2001:db8::7")
        );
    }

    #[test]
    fn with_only_loopback_the_wildcard_falls_back_to_loopback() {
        assert_eq!(
            choose_public_ip(None, ip("0.0.0.0"), &[ip("127.0.0.1")]),
            ip("127.0.0.1")
        );
        assert_eq!(choose_public_ip(None, ip("::"), &[]), ip("::1"));
    }

    #[test]
    fn this_machine_lists_at_least_its_loopback() {
        assert!(interface_addresses().iter().any(|ip| ip.is_loopback()));
    }
}
