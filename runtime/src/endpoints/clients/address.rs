//! Which addresses a Client ID Metadata Document may be fetched from: globally routable unicast
//! only, never loopback, private, link-local, shared (CGNAT), documentation, benchmarking,
//! multicast or other special-use space (RFC 6890 and the IANA special-purpose address registries
//! that succeed it), so that a client id cannot make this server reach into its own network
//! (draft-ietf-oauth-client-id-metadata-document, "Server-Side Request Forgery").

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IPv4 ranges never fetched from: (network, prefix length).
const IPV4_DENIED: &[(Ipv4Addr, u32)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8),       // "this network" (RFC 791)
    (Ipv4Addr::new(10, 0, 0, 0), 8),      // private (RFC 1918)
    (Ipv4Addr::new(100, 64, 0, 0), 10),   // shared address space, CGNAT (RFC 6598)
    (Ipv4Addr::new(127, 0, 0, 0), 8),     // loopback (RFC 1122)
    (Ipv4Addr::new(169, 254, 0, 0), 16),  // link-local, cloud metadata services (RFC 3927)
    (Ipv4Addr::new(172, 16, 0, 0), 12),   // private (RFC 1918)
    (Ipv4Addr::new(192, 0, 0, 0), 24),    // IETF protocol assignments (RFC 6890)
    (Ipv4Addr::new(192, 0, 2, 0), 24),    // documentation TEST-NET-1 (RFC 5737)
    (Ipv4Addr::new(192, 31, 196, 0), 24), // AS112-v4 (RFC 7535)
    (Ipv4Addr::new(192, 52, 193, 0), 24), // AMT (RFC 7450)
    (Ipv4Addr::new(192, 88, 99, 0), 24),  // deprecated 6to4 relay anycast (RFC 7526)
    (Ipv4Addr::new(192, 168, 0, 0), 16),  // private (RFC 1918)
    (Ipv4Addr::new(192, 175, 48, 0), 24), // direct delegation AS112 (RFC 7534)
    (Ipv4Addr::new(198, 18, 0, 0), 15),   // benchmarking (RFC 2544)
    (Ipv4Addr::new(198, 51, 100, 0), 24), // documentation TEST-NET-2 (RFC 5737)
    (Ipv4Addr::new(203, 0, 113, 0), 24),  // documentation TEST-NET-3 (RFC 5737)
    (Ipv4Addr::new(224, 0, 0, 0), 4),     // multicast (RFC 5771)
    (Ipv4Addr::new(240, 0, 0, 0), 4),     // reserved, and the limited broadcast (RFC 1112, RFC 919)
    // Azure's platform address (DHCP, DNS, health probes, the VM agent's "wireserver"), public in
    // form but reachable only from inside Azure:
    // https://learn.microsoft.com/azure/virtual-network/what-is-ip-address-168-63-129-16
    (Ipv4Addr::new(168, 63, 129, 16), 32),
];

/// IPv6 ranges inside 2000::/3 (global unicast) never fetched from.
const IPV6_DENIED: &[(Ipv6Addr, u32)] = &[
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23), // IETF protocol assignments, Teredo (RFC 2928, RFC 4380)
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32), // documentation (RFC 3849)
    (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16), // 6to4, which embeds any IPv4 address (RFC 3056)
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20), // documentation (RFC 9637)
    (Ipv6Addr::new(0x5f00, 0, 0, 0, 0, 0, 0, 0), 16), // segment routing SIDs (RFC 9602)
];

/// Whether `ip` is a globally routable unicast address a document may be fetched from. IPv4
/// addresses mapped into IPv6 (`::ffff:a.b.c.d`) are judged as the IPv4 address they carry.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

/// Whether `ip` is a loopback address (what the test-only switch admits besides public ones).
pub(crate) fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let ip = u32::from(ip);
    !IPV4_DENIED.iter().any(|(net, len)| {
        let mask = u32::MAX << (32 - len);
        ip & mask == u32::from(*net) & mask
    })
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let bits = u128::from(ip);
    // Only global unicast (2000::/3): this leaves out ::, ::1, IPv4-compatible and NAT64
    // (64:ff9b::/96), unique local (fc00::/7), link-local (fe80::/10) and multicast (ff00::/8).
    if bits >> 125 != 0b001 {
        return false;
    }
    !IPV6_DENIED.iter().any(|(net, len)| {
        let mask = u128::MAX << (128 - len);
        bits & mask == u128::from(*net) & mask
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    #[test]
    fn special_use_ipv4_ranges_are_refused_at_both_ends() {
        for denied in [
            "0.0.0.0",
            "0.255.255.255",
            "10.0.0.0",
            "10.255.255.255",
            "100.64.0.0",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "169.254.0.1",
            "172.16.0.0",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.31.196.1",
            "192.52.193.1",
            "192.88.99.1",
            "192.168.0.1",
            "192.168.255.255",
            "192.175.48.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "168.63.129.16",
            "::ffff:168.63.129.16",
        ] {
            assert!(!is_public(ip(denied)), "{denied}");
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.0",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "13.107.42.14",
            "168.63.129.15",
            "168.63.129.17",
        ] {
            assert!(is_public(ip(public)), "{public}");
        }
    }

    #[test]
    fn only_global_unicast_ipv6_outside_special_ranges_is_public() {
        for denied in [
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001::1",
            "2001:1ff:ffff::1",
            "2001:db8::1",
            "2002:a9fe:a9fe::1",
            "3fff::1",
            "5f00::1",
            "::127.0.0.1",
            "100::1",
        ] {
            assert!(!is_public(ip(denied)), "{denied}");
        }
        for public in ["2001:200::1", "2606:4700:4700::1111", "2620:1ec:bdf::10", "::ffff:8.8.8.8", "3ffe::1"]
        {
            assert!(is_public(ip(public)), "{public}");
        }
    }

    #[test]
    fn loopback_is_recognised_in_every_form() {
        for lo in ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"] {
            assert!(is_loopback(ip(lo)), "{lo}");
        }
        assert!(!is_loopback(ip("10.0.0.1")));
    }
}
