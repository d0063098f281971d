//! The masks of `doveadm who` and `doveadm kick`: at most one user mask (`*` and `?`
//! wildcards, case-insensitive) and at most one `ip[/bits]` network; an argument that parses
//! as a network is the network, anything else the user mask.

use std::net::IpAddr;

use crate::runtime::DirectoryError;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    pub user: Option<String>,
    pub net: Option<(IpAddr, u8)>,
}

/// `ip` or `ip/bits` (Dovecot's `net_parse_range`).
pub fn parse_net(s: &str) -> Option<(IpAddr, u8)> {
    let (ip, bits) = match s.split_once('/') {
        Some((ip, bits)) => (ip.parse::<IpAddr>().ok()?, Some(bits.parse::<u8>().ok()?)),
        None => (s.parse::<IpAddr>().ok()?, None),
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(max);
    (bits <= max).then_some((ip, bits))
}

/// Whether `ip` is in `net`/`bits`.
pub fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let (a, b, width) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a) as u128, u32::from(b) as u128, 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
        // An IPv4 client seen as ::ffff:a.b.c.d still matches an IPv4 network.
        (IpAddr::V6(a), IpAddr::V4(_)) => match a.to_ipv4_mapped() {
            Some(a) => return in_network(IpAddr::V4(a), net, bits),
            None => return false,
        },
        _ => return false,
    };
    if bits == 0 {
        return true;
    }
    let shift = width - bits as u32;
    (a >> shift) == (b >> shift)
}

/// Dovecot's `wildcard_match_icase`: `*` any run, `?` one character.
pub fn wildcard_match(text: &str, mask: &str) -> bool {
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let m: Vec<char> = mask.to_lowercase().chars().collect();
    let (mut ti, mut mi) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if mi < m.len() && (m[mi] == '?' || m[mi] == t[ti]) {
            ti += 1;
            mi += 1;
        } else if mi < m.len() && m[mi] == '*' {
            star = Some(mi);
            mark = ti;
            mi += 1;
        } else if let Some(s) = star {
            mi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    m[mi..].iter().all(|&c| c == '*')
}

impl Filter {
    pub fn parse(masks: &[String]) -> Result<Filter, DirectoryError> {
        let mut f = Filter::default();
        for m in masks {
            if let Some(net) = parse_net(m) {
                if f.net.replace(net).is_some() {
                    return Err(DirectoryError::MultipleNetMasks);
                }
            } else if f.user.replace(m.clone()).is_some() {
                return Err(DirectoryError::MultipleUserMasks);
            }
        }
        Ok(f)
    }

    pub fn is_empty(&self) -> bool {
        self.user.is_none() && self.net.is_none()
    }

    /// Whether `user` matches the user mask and one of `ips` is in the network.
    pub fn matches(&self, user: &str, ips: &[IpAddr]) -> bool {
        if let Some(mask) = &self.user {
            if !wildcard_match(user, mask) {
                return false;
            }
        }
        match self.net {
            Some((net, bits)) => ips.iter().any(|ip| in_network(*ip, net, bits)),
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_case_insensitively() {
        assert!(wildcard_match("user1@example.test", "user1*"));
        assert!(wildcard_match("User1@Example.test", "user?@*.TEST"));
        assert!(!wildcard_match("user12@example.test", "user?@*"));
        assert!(wildcard_match("bob", "*"));
        assert!(wildcard_match("bob", "b*b"));
        assert!(!wildcard_match("bobby", "bob"));
    }

    #[test]
    fn masks_are_a_network_or_a_user_once_each() {
        let f = Filter::parse(&["10.1.0.0/16".into(), "b*".into()]).unwrap();
        assert_eq!(f.user.as_deref(), Some("b*"));
        assert!(f.matches("bob", &["10.1.2.3".parse().unwrap()]));
        assert!(!f.matches("bob", &["10.2.2.3".parse().unwrap()]));
        assert!(!f.matches("bob", &[]), "no IP is in no network");
        assert!(f.matches("bob", &["::ffff:10.1.0.9".parse().unwrap()]));
        assert!(Filter::parse(&["127.0.0.1".into()])
            .unwrap()
            .matches("x", &["127.0.0.1".parse().unwrap()]));
        assert_eq!(
            Filter::parse(&["a".into(), "b".into()]),
            Err(DirectoryError::MultipleUserMasks)
        );
        assert_eq!(
            Filter::parse(&["::1".into(), "10.0.0.0/8".into()]),
            Err(DirectoryError::MultipleNetMasks)
        );
        assert!(parse_net("10.0.0.0/33").is_none());
        assert!(Filter::parse(&[]).unwrap().is_empty());
    }
}
