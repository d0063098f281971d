//! `ssl_cipher_list` (OpenSSL cipher-string syntax) mapped onto the TLS 1.2 cipher suites rustls
//! offers. rustls has only ECDHE + AEAD suites, so the mapping is small: suite names (OpenSSL's
//! `ECDHE-RSA-AES256-GCM-SHA384` or IANA's `TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384`), aggregate
//! keywords (`ALL`, `HIGH`, `ECDHE`, `AESGCM`, `aRSA`, …, joined with `+`) and exclusions
//! (`!X`, `-X`) are honoured in order; names of suites rustls never offers (DHE, CBC, RC4, …)
//! select nothing, as OpenSSL ignores unavailable ones; `+X` moves and `@STRENGTH`/`@SECLEVEL`
//! are ignored. A list that selects no suite at all is an error. TLS 1.3 suites are not governed
//! by this list (as in OpenSSL) and are always enabled.

use tokio_rustls::rustls::crypto::aws_lc_rs::ALL_CIPHER_SUITES;
use tokio_rustls::rustls::SupportedCipherSuite;

/// OpenSSL names of the TLS 1.2 suites rustls offers, with their IANA names.
const OPENSSL_NAMES: &[(&str, &str)] = &[
    (
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    ),
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    ),
    (
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
    (
        "ECDHE-RSA-AES256-GCM-SHA384",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    ),
    (
        "ECDHE-RSA-AES128-GCM-SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    ),
    (
        "ECDHE-RSA-CHACHA20-POLY1305",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
];

fn iana(s: &SupportedCipherSuite) -> &'static str {
    s.suite().as_str().unwrap_or("")
}

/// rustls' TLS 1.2 suites in its preference order.
fn tls12_all() -> Vec<SupportedCipherSuite> {
    ALL_CIPHER_SUITES
        .iter()
        .copied()
        .filter(|s| s.tls13().is_none())
        .collect()
}

/// rustls' TLS 1.3 suites.
pub fn tls13_all() -> Vec<SupportedCipherSuite> {
    ALL_CIPHER_SUITES
        .iter()
        .copied()
        .filter(|s| s.tls13().is_some())
        .collect()
}

/// What one keyword (a part of `A+B`) selects, given a suite's IANA name. `None`: unknown.
fn keyword_matches(k: &str, name: &str) -> Option<bool> {
    let has = |p: &str| name.contains(p);
    Some(match k {
        "ALL" | "DEFAULT" | "HIGH" | "SECURE" | "AEAD" | "FIPS" | "TLSv1.2" | "ECDHE" | "EECDH"
        | "kECDHE" | "kEECDH" | "ECDH" | "AECDH" | "SUITEB128" | "SUITEB192" => true,
        "aRSA" | "RSA" => has("_RSA_"),
        "aECDSA" | "ECDSA" => has("_ECDSA_"),
        "AESGCM" => has("_GCM_"),
        "AES" => has("_AES_"),
        "AES128" => has("AES_128"),
        "AES256" => has("AES_256"),
        "CHACHA20" => has("CHACHA20"),
        "SHA256" => name.ends_with("SHA256"),
        "SHA384" => name.ends_with("SHA384"),
        // Known OpenSSL keywords whose suites rustls never offers.
        "MEDIUM"
        | "LOW"
        | "EXP"
        | "EXPORT"
        | "NULL"
        | "eNULL"
        | "aNULL"
        | "COMPLEMENTOFALL"
        | "COMPLEMENTOFDEFAULT"
        | "RC4"
        | "DES"
        | "3DES"
        | "MD5"
        | "SHA1"
        | "SHA"
        | "kRSA"
        | "DH"
        | "DHE"
        | "EDH"
        | "kDHE"
        | "kEDH"
        | "kDHr"
        | "kDHd"
        | "kDH"
        | "ADH"
        | "kECDH"
        | "kECDHr"
        | "kECDHe"
        | "aECDH"
        | "PSK"
        | "kPSK"
        | "SRP"
        | "kSRP"
        | "aSRP"
        | "CAMELLIA"
        | "ARIA"
        | "SEED"
        | "IDEA"
        | "RC2"
        | "CBC"
        | "AESCCM"
        | "AESCCM8"
        | "DSS"
        | "aDSS"
        | "GOST"
        | "SSLv3"
        | "TLSv1"
        | "TLSv1.0"
        | "CHACHA20-POLY1305" => false,
        _ => return None,
    })
}

/// Suites selected by one token (without its `!`/`-` prefix). `None`: unknown token.
fn token_selects(token: &str, all: &[SupportedCipherSuite]) -> Option<Vec<SupportedCipherSuite>> {
    // An exact suite name, OpenSSL or IANA spelling.
    let by_name = OPENSSL_NAMES
        .iter()
        .find(|(o, _)| *o == token)
        .map(|(_, i)| *i)
        .unwrap_or(token);
    if let Some(s) = all.iter().find(|s| iana(s) == by_name) {
        return Some(vec![*s]);
    }
    if token.starts_with("TLS_") || looks_like_suite_name(token) {
        // A suite rustls does not offer (or a TLS 1.3 one, which this list does not govern).
        return Some(Vec::new());
    }
    let mut out = Vec::new();
    for s in all {
        let mut all_match = true;
        for k in token.split('+') {
            match keyword_matches(k, iana(s)) {
                Some(m) => all_match &= m,
                None => return None,
            }
        }
        if all_match {
            out.push(*s);
        }
    }
    Some(out)
}

/// OpenSSL suite names look like `ECDHE-RSA-AES256-SHA384` or `AES128-SHA`.
fn looks_like_suite_name(t: &str) -> bool {
    t.contains('-')
        && !t.contains('+')
        && t.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// The TLS 1.2 suites `list` selects, in the list's order. Unknown tokens are returned
/// separately so the caller can warn about them.
pub fn select_tls12(list: &str) -> Result<(Vec<SupportedCipherSuite>, Vec<String>), String> {
    let all = tls12_all();
    if list.trim().is_empty() {
        return Ok((all, Vec::new()));
    }
    let mut chosen: Vec<SupportedCipherSuite> = Vec::new();
    let mut removed: Vec<SupportedCipherSuite> = Vec::new();
    let mut unknown = Vec::new();
    for raw in list.split([':', ',', ' ']).filter(|t| !t.is_empty()) {
        if raw.starts_with('@') {
            continue;
        }
        let (op, token) = match raw.as_bytes()[0] {
            b'!' | b'-' | b'+' => (raw.as_bytes()[0], &raw[1..]),
            _ => (b' ', raw),
        };
        let Some(sel) = token_selects(token, &all) else {
            unknown.push(raw.to_string());
            continue;
        };
        match op {
            b'!' => {
                chosen.retain(|s| !sel.contains(s));
                removed.extend(sel);
            }
            b'-' => chosen.retain(|s| !sel.contains(s)),
            b'+' => {}
            _ => {
                for s in sel {
                    if !chosen.contains(&s) && !removed.contains(&s) {
                        chosen.push(s);
                    }
                }
            }
        }
    }
    if chosen.is_empty() {
        let offered: Vec<&str> = OPENSSL_NAMES.iter().map(|(o, _)| *o).collect();
        return Err(format!(
            "'{list}' selects none of the TLS 1.2 cipher suites rustls offers ({}); \
             TLS 1.3 suites are always enabled. Use e.g. 'HIGH' or list some of those names",
            offered.join(":")
        ));
    }
    Ok((chosen, unknown))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[SupportedCipherSuite]) -> Vec<&'static str> {
        v.iter().map(iana).collect()
    }

    #[test]
    fn dovecot_default_list_selects_everything() {
        let (v, unknown) = select_tls12("ALL:!kRSA:!SRP:!kDHd:!DH:!kECDH:!aNULL:!eNULL").unwrap();
        assert_eq!(v.len(), tls12_all().len());
        assert!(unknown.is_empty(), "{unknown:?}");
    }

    #[test]
    fn explicit_openssl_names_keep_their_order_and_unavailable_ones_are_skipped() {
        let (v, _) = select_tls12(
            "ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256",
        )
        .unwrap();
        assert_eq!(
            names(&v),
            [
                "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
            ]
        );
    }

    #[test]
    fn combined_keywords_and_exclusions() {
        let (v, _) = select_tls12("EECDH+AESGCM:!aECDSA").unwrap();
        assert_eq!(
            names(&v),
            [
                "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
            ]
        );
    }

    #[test]
    fn a_list_of_only_weak_ciphers_is_rejected_with_the_alternatives() {
        let e = select_tls12("RC4-SHA:DES-CBC3-SHA").unwrap_err();
        assert!(e.contains("ECDHE-RSA-AES128-GCM-SHA256"), "{e}");
    }

    #[test]
    fn unknown_tokens_are_reported() {
        let (_, unknown) = select_tls12("HIGH:BOGUSWORD").unwrap();
        assert_eq!(unknown, ["BOGUSWORD"]);
    }
}
