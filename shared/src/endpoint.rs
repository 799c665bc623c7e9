//! Where the gateway may send a request of its own to a tenant-given address (a webhook
//! endpoint): https, no credentials, and a globally routed public address only — checked
//! on the URL when the registry is read, and again on every address its name resolves
//! to when a delivery connects (no server-side request forgery through DNS).
//!
//! Addresses are judged by an allow-list: IPv4 outside every special-purpose block of
//! IANA's IPv4 Special-Purpose Address Registry that is not globally reachable, and IPv6
//! in global unicast (`2000::/3`) outside the special-purpose blocks inside it. So NAT64
//! (`64:ff9b::/96`), IPv4-compatible and IPv4-mapped forms, site-local (`fec0::/10`),
//! unique-local and link-local addresses are refused whatever IPv4 address they embed,
//! and 6to4 (`2002::/16`) and Teredo (`2001::/32`) are refused inside `2000::/3`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::Url;

/// IPv4 blocks that are not globally routed: (network, prefix length).
const IPV4_SPECIAL: &[([u8; 4], u8)] = &[
    ([0, 0, 0, 0], 8),       // "this network"
    ([10, 0, 0, 0], 8),      // private
    ([100, 64, 0, 0], 10),   // shared address space (carrier-grade NAT)
    ([127, 0, 0, 0], 8),     // loopback
    ([169, 254, 0, 0], 16),  // link-local (cloud metadata)
    ([172, 16, 0, 0], 12),   // private
    ([192, 0, 0, 0], 24),    // IETF protocol assignments
    ([192, 0, 2, 0], 24),    // documentation (TEST-NET-1)
    ([192, 88, 99, 0], 24),  // 6to4 relay anycast (deprecated)
    ([192, 168, 0, 0], 16),  // private
    ([198, 18, 0, 0], 15),   // benchmarking
    ([198, 51, 100, 0], 24), // documentation (TEST-NET-2)
    ([203, 0, 113, 0], 24),  // documentation (TEST-NET-3)
    ([224, 0, 0, 0], 4),     // multicast
    ([240, 0, 0, 0], 4),     // reserved, and the limited broadcast address
];

/// Blocks inside IPv6 global unicast (`2000::/3`) that are not ordinary public hosts:
/// (network, prefix length).
const IPV6_SPECIAL: &[(u128, u8)] = &[
    (0x2001_0000 << 96, 23), // IETF protocol assignments (Teredo, ORCHID, ...)
    (0x2001_0db8 << 96, 32), // documentation
    (0x2002 << 112, 16),     // 6to4: an IPv4 address of any kind inside
    (0x3fff << 112, 20),     // documentation
];

fn in_v4_block(ip: Ipv4Addr, (network, length): ([u8; 4], u8)) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(length)).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(network)) & mask
}

fn in_v6_block(ip: Ipv6Addr, (network, length): (u128, u8)) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(length)).unwrap_or(0);
    u128::from(ip) & mask == network & mask
}

/// Whether the gateway may send to this address: a globally routed public one.
pub fn is_public_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !IPV4_SPECIAL.iter().any(|block| in_v4_block(v4, *block)),
        IpAddr::V6(v6) => {
            in_v6_block(v6, (0x2000 << 112, 3))
                && !IPV6_SPECIAL.iter().any(|block| in_v6_block(v6, *block))
        }
    }
}

/// Loopback, which a local run may allow for plain http.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// An endpoint the gateway sends to (a webhook): https on a public host, no credentials,
/// no fragment; in local runs also plain http to loopback. The reason is safe to show.
pub fn check_endpoint(url: &Url, allow_loopback_http: bool) -> Result<(), String> {
    let loopback_allowed = allow_loopback_http && is_loopback(url);
    match url.scheme() {
        "https" => {}
        "http" if loopback_allowed => {}
        "http" => return Err("must use https".into()),
        _ => return Err("must be an https URL".into()),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials".into());
    }
    if url.fragment().is_some() {
        return Err("must not carry a fragment".into());
    }
    let public = match url.host() {
        None => return Err("must name a host".into()),
        Some(url::Host::Domain(domain)) => {
            !(domain.eq_ignore_ascii_case("localhost")
                || domain.to_ascii_lowercase().ends_with(".localhost"))
        }
        Some(url::Host::Ipv4(ip)) => is_public_address(ip.into()),
        Some(url::Host::Ipv6(ip)) => is_public_address(ip.into()),
    };
    if !public && !loopback_allowed {
        return Err("must be a public address (not loopback, private, link-local or another special-purpose range)".into());
    }
    Ok(())
}

/// Whether a resolved address may be connected to (`allow_loopback` in local runs).
pub fn may_connect(ip: IpAddr, allow_loopback: bool) -> bool {
    is_public_address(ip) || (allow_loopback && ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_special_purpose_range_is_refused_and_public_hosts_are_not() {
        // The round-3 review's accepted forms, then the ones it found refused already.
        let refused = [
            "64:ff9b::a9fe:a9fe",  // NAT64 of 169.254.169.254
            "64:ff9b::a00:1",      // NAT64 of 10.0.0.1
            "64:ff9b:1::a00:1",    // local-use NAT64
            "::a9fe:a9fe",         // IPv4-compatible
            "::ffff:a9fe:a9fe",    // IPv4-mapped
            "2002:a9fe:a9fe::1",   // 6to4
            "2001:0:4136:e378::1", // Teredo
            "2001:db8::1",         // documentation
            "3fff::1",             // documentation
            "fec0::1",             // site-local
            "fd00:ec2::254",       // unique local (EC2 metadata over IPv6)
            "fe80::1",             // link-local
            "ff02::1",             // multicast
            "::1",
            "::",
            "198.18.0.1",
            "198.19.255.255",
            "192.0.0.170",
            "192.0.2.1",
            "192.88.99.1",
            "240.0.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "169.254.169.254",
            "169.254.170.2",
            "100.100.100.200",
            "10.0.0.1",
            "172.16.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "0.0.0.0",
            "203.0.113.9",
        ];
        for address in refused {
            let ip: IpAddr = address.parse().unwrap();
            assert!(!is_public_address(ip), "{address} must be refused");
        }
        for address in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "2a00:1450::1",
            "198.20.0.1",
        ] {
            let ip: IpAddr = address.parse().unwrap();
            assert!(is_public_address(ip), "{address} is public");
        }
    }

    #[test]
    fn an_endpoint_is_https_on_a_public_host_without_credentials() {
        let check = |raw: &str, loopback| check_endpoint(&Url::parse(raw).unwrap(), loopback);
        assert!(check("https://hooks.example/3ds", false).is_ok());
        for refused in [
            "http://hooks.example/3ds",
            "https://user:pw@hooks.example/",
            "https://hooks.example/#x",
            "https://localhost/",
            "https://a.localhost/",
            "https://[64:ff9b::a9fe:a9fe]/",
            "https://198.18.0.1/",
            "https://0xa9.0xfe.0xa9.0xfe/",
            "https://2852039166/",
            "ftp://hooks.example/",
        ] {
            assert!(check(refused, false).is_err(), "{refused}");
        }
        assert!(check("http://127.0.0.1:3960/h", true).is_ok());
        assert!(check("http://127.0.0.1:3960/h", false).is_err());
        assert!(check("http://10.0.0.1/h", true).is_err());
    }
}
