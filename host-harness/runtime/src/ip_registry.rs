//! Which IP addresses are public: the IANA special-purpose address registries (IPv4 and IPv6)
//! as tables, the most specific row deciding. Pure; the egress policy (`egress.rs`) and the
//! tenant's allow-list (`tenant.rs`) both ask it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// How far an address range reaches, as the IANA special-purpose registries say ("Globally
/// Reachable"), for ranges whose answer hides inside the address: those that carry an IPv4
/// address a gateway will forward to are judged by that IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    Global,
    NotGlobal,
    /// The IPv4 address in the last 32 bits: IPv4-compatible (`::/96`, deprecated),
    /// IPv4-mapped (`::ffff:0:0/96`) and NAT64's well-known prefix (`64:ff9b::/96`).
    LastV4,
    /// 6to4 (`2002::/16`): the relay's IPv4 address in bits 16..48.
    SixToFour,
    /// Teredo (`2001::/32`): the server's IPv4 address in bits 32..64 and the client's, inverted,
    /// in the last 32 bits; both must be public.
    Teredo,
}

/// The IANA IPv4 Special-Purpose Address Registry (iana-ipv4-special-registry, as updated
/// 2025), one row per entry, with its "Globally Reachable" column; plus multicast, which is not
/// in that registry but is never a unicast server. The most specific row that contains an address
/// decides; an address in no row is public. "N/A" (deprecated 6to4 relay anycast) counts as not
/// globally reachable.
const V4_REGISTRY: &[([u8; 4], u8, bool)] = &[
    ([0, 0, 0, 0], 8, false),          // "This network" (RFC 791)
    ([0, 0, 0, 0], 32, false),         // "This host on this network" (RFC 1122)
    ([10, 0, 0, 0], 8, false),         // Private-Use (RFC 1918)
    ([100, 64, 0, 0], 10, false),      // Shared Address Space, CGNAT (RFC 6598)
    ([127, 0, 0, 0], 8, false),        // Loopback (RFC 1122)
    ([169, 254, 0, 0], 16, false),     // Link Local, incl. cloud metadata (RFC 3927)
    ([172, 16, 0, 0], 12, false),      // Private-Use (RFC 1918)
    ([192, 0, 0, 0], 24, false),       // IETF Protocol Assignments (RFC 6890)
    ([192, 0, 0, 0], 29, false),       // IPv4 Service Continuity Prefix, DS-Lite (RFC 7335)
    ([192, 0, 0, 8], 32, false),       // IPv4 dummy address (RFC 7600)
    ([192, 0, 0, 9], 32, true),        // Port Control Protocol Anycast (RFC 7723)
    ([192, 0, 0, 10], 32, true),       // Traversal Using Relays around NAT Anycast (RFC 8155)
    ([192, 0, 0, 170], 32, false),     // NAT64/DNS64 Discovery (RFC 7050)
    ([192, 0, 0, 171], 32, false),     // NAT64/DNS64 Discovery (RFC 7050)
    ([192, 0, 2, 0], 24, false),       // Documentation, TEST-NET-1 (RFC 5737)
    ([192, 31, 196, 0], 24, true),     // AS112-v4 (RFC 7535)
    ([192, 52, 193, 0], 24, true),     // AMT (RFC 7450)
    ([192, 88, 99, 0], 24, false),     // Deprecated 6to4 Relay Anycast (RFC 7526): N/A
    ([192, 168, 0, 0], 16, false),     // Private-Use (RFC 1918)
    ([198, 18, 0, 0], 15, false),      // Benchmarking (RFC 2544)
    ([198, 51, 100, 0], 24, false),    // Documentation, TEST-NET-2 (RFC 5737)
    ([203, 0, 113, 0], 24, false),     // Documentation, TEST-NET-3 (RFC 5737)
    ([224, 0, 0, 0], 4, false),        // Multicast (RFC 5771; not in the registry)
    ([240, 0, 0, 0], 4, false),        // Reserved (RFC 1112)
    ([255, 255, 255, 255], 32, false), // Limited Broadcast (RFC 919)
];

/// The IANA IPv6 Special-Purpose Address Registry (iana-ipv6-special-registry, as updated 2025),
/// one row per entry, plus multicast (`ff00::/8`), as for IPv4. Ranges that embed an IPv4
/// address a gateway forwards to are judged by it (NAT64's well-known prefix is globally
/// reachable in the registry, yet `64:ff9b::7f00:1` is 127.0.0.1 on the translator's network).
/// The local-use NAT64 prefix (`64:ff9b:1::/48`, RFC 8215) is not globally reachable, and where
/// its IPv4 address sits depends on the prefix length the local network chose: refused whole.
const V6_REGISTRY: &[([u16; 8], u8, Reach)] = &[
    ([0, 0, 0, 0, 0, 0, 0, 1], 128, Reach::NotGlobal), // Loopback (RFC 4291)
    ([0, 0, 0, 0, 0, 0, 0, 0], 128, Reach::NotGlobal), // Unspecified (RFC 4291)
    ([0, 0, 0, 0, 0, 0, 0, 0], 96, Reach::LastV4),     // IPv4-compatible (RFC 4291, deprecated)
    ([0, 0, 0, 0, 0, 0xffff, 0, 0], 96, Reach::LastV4), // IPv4-mapped (RFC 4291)
    ([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96, Reach::LastV4), // IPv4-IPv6 Translation (RFC 6052)
    ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, Reach::NotGlobal), // IPv4-IPv6 Translation, local use (RFC 8215)
    ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, Reach::NotGlobal), // Discard-Only (RFC 6666)
    ([0x100, 0, 0, 1, 0, 0, 0, 0], 64, Reach::NotGlobal), // Dummy IPv6 Prefix (RFC 9780)
    ([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, Reach::NotGlobal), // IETF Protocol Assignments (RFC 2928)
    ([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, Reach::Teredo), // TEREDO (RFC 4380): N/A
    ([0x2001, 1, 0, 0, 0, 0, 0, 1], 128, Reach::Global), // Port Control Protocol Anycast (RFC 7723)
    ([0x2001, 1, 0, 0, 0, 0, 0, 2], 128, Reach::Global), // TURN Anycast (RFC 8155)
    ([0x2001, 1, 0, 0, 0, 0, 0, 3], 128, Reach::Global), // DNS-SD SRP Anycast (RFC 9665)
    ([0x2001, 2, 0, 0, 0, 0, 0, 0], 48, Reach::NotGlobal), // Benchmarking (RFC 5180)
    ([0x2001, 3, 0, 0, 0, 0, 0, 0], 32, Reach::Global), // AMT (RFC 7450)
    ([0x2001, 4, 0x112, 0, 0, 0, 0, 0], 48, Reach::Global), // AS112-v6 (RFC 7535)
    ([0x2001, 0x10, 0, 0, 0, 0, 0, 0], 28, Reach::NotGlobal), // Deprecated ORCHID (RFC 4843)
    ([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28, Reach::Global), // ORCHIDv2 (RFC 7343)
    ([0x2001, 0x30, 0, 0, 0, 0, 0, 0], 28, Reach::Global), // Drone Remote ID (RFC 9374)
    ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, Reach::NotGlobal), // Documentation (RFC 3849)
    ([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, Reach::SixToFour), // 6to4 (RFC 3056): N/A
    ([0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0], 48, Reach::Global), // Direct Delegation AS112 (RFC 7534)
    ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, Reach::NotGlobal), // Documentation (RFC 9637)
    ([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, Reach::NotGlobal), // Segment Routing SIDs (RFC 9602)
    ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, Reach::NotGlobal), // Unique-Local (RFC 4193)
    ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, Reach::NotGlobal), // Link-Local Unicast (RFC 4291)
    ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, Reach::NotGlobal), // Multicast (RFC 4291; not in the registry)
];

/// The most specific row of `registry` containing `address` (as a big-endian integer of `BITS`).
fn most_specific<T: Copy, const BITS: u32>(address: u128, rows: impl Iterator<Item = (u128, u8, T)>) -> Option<T> {
    rows.filter(|&(network, len, _)| {
        let shift = BITS - u32::from(len);
        // A /0 row would shift by the whole width: no such row exists, but stay total.
        len == 0 || (address >> shift) == (network >> shift)
    })
    .max_by_key(|&(_, len, _)| len)
    .map(|(_, _, reach)| reach)
}

/// Whether an address is globally reachable: not in a special-purpose range the IANA registries
/// mark as not globally reachable (loopback, private, link-local incl. the cloud metadata
/// address, shared/CGNAT, benchmarking, documentation, reserved, discard, ...), nor multicast or
/// broadcast. Addresses that carry an IPv4 address (IPv4-mapped and -compatible, NAT64, 6to4,
/// Teredo) are judged by the IPv4 address they carry.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let rows = V4_REGISTRY.iter().map(|&(net, len, global)| (u128::from(u32::from_be_bytes(net)), len, global));
            most_specific::<bool, 32>(u128::from(u32::from(v4)), rows).unwrap_or(true)
        }
        IpAddr::V6(v6) => {
            let rows = V6_REGISTRY.iter().map(|&(net, len, reach)| (u128::from(Ipv6Addr::from(net)), len, reach));
            let bits = u128::from(v6);
            let v4 = |shift: u32| IpAddr::V4(Ipv4Addr::from((bits >> shift) as u32));
            match most_specific::<Reach, 128>(bits, rows).unwrap_or(Reach::Global) {
                Reach::Global => true,
                Reach::NotGlobal => false,
                Reach::LastV4 => is_public(v4(0)),
                Reach::SixToFour => is_public(v4(80)),
                Reach::Teredo => is_public(v4(64)) && is_public(IpAddr::V4(Ipv4Addr::from(!(bits as u32)))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(text: &str) -> Ipv4Addr {
        text.parse().unwrap()
    }

    /// First and last address of every row, each judged as its row says (an inner row, more
    /// specific, wins for its own addresses); and the address just outside the row.
    #[test]
    fn every_row_of_the_ipv4_registry_decides_its_whole_range() {
        for &(net, len, global) in V4_REGISTRY {
            let first = u32::from_be_bytes(net);
            let last = first | (u32::MAX.checked_shr(u32::from(len)).unwrap_or(0));
            for address in [first, last, first + (last - first) / 2] {
                let inner = V4_REGISTRY.iter().any(|&(n, l, _)| {
                    l > len && (address >> (32 - u32::from(l))) == (u32::from_be_bytes(n) >> (32 - u32::from(l)))
                });
                if inner {
                    continue;
                }
                let ip = Ipv4Addr::from(address);
                assert_eq!(is_public(ip.into()), global, "{ip} in {}/{len}", Ipv4Addr::from(net));
            }
        }
    }

    #[test]
    fn ipv4_special_purpose_addresses_are_not_public() {
        for refused in [
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.1",
            "192.0.0.8",
            "192.0.0.170",
            "192.0.0.255",
            "192.0.2.10",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "250.1.2.3",
            "255.255.255.254",
            "255.255.255.255",
        ] {
            assert!(!is_public(v4(refused).into()), "{refused} counted as public");
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.1",
            "192.0.0.9",
            "192.0.0.10",
            "192.0.1.1",
            "192.31.196.1",
            "192.52.193.1",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
        ] {
            assert!(is_public(v4(public).into()), "{public} counted as not public");
        }
    }

    #[test]
    fn ipv6_special_purpose_addresses_are_not_public() {
        for refused in [
            "::",
            "::1",
            "64:ff9b:1::808:808",
            "64:ff9b:1:ffff::1",
            "100::1",
            "100::ffff:ffff:ffff:ffff",
            "100:0:0:1::1",
            "2001:2::1",
            "2001:10::1",
            "2001:1::4",
            "2001:4::1",
            "2001:1ff::1",
            "2001:db8::1",
            "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
            "3fff::1",
            "3fff:fff:ffff::1",
            "5f00::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "ff02::1",
            "ff0e::1",
        ] {
            assert!(!is_public(refused.parse().unwrap()), "{refused} counted as public");
        }
        for public in [
            "2606:4700::1111",
            "2a00:1450:4001::200e",
            "2001:1::1",
            "2001:1::2",
            "2001:1::3",
            "2001:3::1",
            "2001:4:112::1",
            "2001:20::1",
            "2001:30::1",
            "2001:200::1",
            "2001:db9::1",
            "2620:4f:8000::1",
            "4000::1",
            "fec0::1",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public} counted as not public");
        }
    }

    /// Every form that carries an IPv4 address, with every IPv4 sample: public exactly when the
    /// IPv4 address is.
    #[test]
    fn addresses_carrying_an_ipv4_address_are_judged_by_it() {
        let samples = [
            "8.8.8.8",
            "93.184.216.34",
            "127.0.0.1",
            "10.0.0.7",
            "169.254.169.254",
            "192.168.1.1",
            "100.64.0.1",
            "198.18.0.1",
            "240.0.0.1",
            "192.0.0.170",
            "192.0.2.1",
            "0.0.0.0",
        ];
        type Embed = fn(u32) -> u128;
        let forms: [(&str, Embed); 5] = [
            ("IPv4-compatible ::a.b.c.d", u128::from),
            ("IPv4-mapped ::ffff:a.b.c.d", |ip| 0xffff_0000_0000 | u128::from(ip)),
            ("NAT64 64:ff9b::a.b.c.d", |ip| (0x64_ff9b_u128 << 96) | u128::from(ip)),
            ("6to4 2002:a.b.c.d::1", |ip| (0x2002_u128 << 112) | (u128::from(ip) << 80) | 1),
            // The client's address, inverted; the server a public one.
            ("Teredo, client", |ip| (0x2001_0000_u128 << 96) | (0x0808_0808_u128 << 64) | u128::from(!ip)),
        ];
        for sample in samples {
            let embedded = v4(sample);
            let expected = is_public(embedded.into());
            for (form, make) in &forms {
                let ip = Ipv6Addr::from(make(u32::from(embedded)));
                // `::0.0.0.0` is the unspecified address: not public whatever the rule.
                assert_eq!(is_public(ip.into()), expected, "{form}: {ip} carrying {sample}");
            }
            // Teredo's server address counts as well.
            let teredo = Ipv6Addr::from(
                (0x2001_0000_u128 << 96) | (u128::from(u32::from(embedded)) << 64) | u128::from(!0x0808_0808_u32),
            );
            assert_eq!(is_public(teredo.into()), expected, "Teredo, server: {teredo} carrying {sample}");
        }
        for (text, public) in [
            ("::ffff:127.0.0.1", false),
            ("::ffff:169.254.169.254", false),
            ("::ffff:8.8.8.8", true),
            ("::127.0.0.1", false),
            ("::8.8.8.8", true),
            ("64:ff9b::127.0.0.1", false),
            ("64:ff9b::10.0.0.1", false),
            ("64:ff9b::8.8.8.8", true),
            ("2002:7f00:1::1", false),
            ("2002:a9fe:a9fe::1", false),
            ("2002:808:808::1", true),
            ("2001:0:808:808::f7f7:f7f7", true),
            ("2001:0:808:808::80ff:fffe", false),
            ("2001:0:7f00:1::f7f7:f7f7", false),
        ] {
            assert_eq!(is_public(text.parse().unwrap()), public, "{text}");
        }
    }
}
