//! Scheme tests. The fixed hashes were made by Dovecot 2.3 (`doveadm pw -s SCHEME -p 'secret pw'`
//! on Debian), so they pin byte compatibility with Dovecot-made user files.

use super::*;

const PW: &[u8] = b"secret pw";

/// (scheme label, hash made by doveadm pw).
const DOVEADM: &[(&str, &str)] = &[
    ("PLAIN", "{PLAIN}secret pw"),
    ("CLEARTEXT", "{CLEARTEXT}secret pw"),
    ("CRYPT", "{CRYPT}$2y$05$cziHJsVAAPYc1VS2V6sVge.GrgqX8JOtLLJ1C4Z7WgsebjdBruNTm"),
    ("DES-CRYPT", "{DES-CRYPT}8BEfM90mCG4Qg"),
    ("MD5-CRYPT", "{MD5-CRYPT}$1$SZne8hM/$.avBp/PxydU3iqK5m0n9z."),
    ("SHA256-CRYPT", "{SHA256-CRYPT}$5$D4x4j8OMtODd/oDk$MBec14XGi2Fezqx8iEGzgABgxeLwGEOinv1d1KUuX10"),
    ("SHA512-CRYPT", "{SHA512-CRYPT}$6$PUafP5/IsGpUQ9Fn$gIKwwliye338ajopM1.SQ0n1ISWwoAh/aNXJFAZvUC8zz/1pmamQOSBWjxEE3Gfkt28SW9qDf8uj1dlhQNqf6."),
    ("BLF-CRYPT", "{BLF-CRYPT}$2y$05$g/aDDWGHYw70LuPTu2cGUeXQVYJlSiE2V/UZ0fXxeniMNy1FApy8W"),
    ("ARGON2I", "{ARGON2I}$argon2i$v=19$m=32768,t=4,p=1$9u5SQ435SeQLzzmnoyiV+w$B7RNk21vRPkBOpJXC8rRul7ZfceCcujAOIceiQRzK+4"),
    ("ARGON2ID", "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$K2UVwYfqiouL5vA2Pj88aw$P2Uj54Zu5lUAlsdILx0R5Ww67Rfgh5sSjpi+naUvI4A"),
    ("SHA", "{SHA}rS7uKHTXnyVCt9RR2Lh+fJ2k/DM="),
    ("SSHA", "{SSHA}j50BnmRIWvs51X+hSfZLtUeaMcweG20t"),
    ("SHA256", "{SHA256}cyD/LZ+8Ttpf+K5JaXizkq7T8LhQjTu9nAYOxsmDia4="),
    ("SSHA256", "{SSHA256}R5fDXtyZf2lM9qVkoqunTIbUTChI9k2EnZl5XmpxoKIJNKdh"),
    ("SHA512", "{SHA512}UaSw18rZ+ZtXuLCs5Mjo3/eMIX2GvEt2tNk7lGd04+kvh//hj45YtAWPnpsLYet1KovF/qAwuKLTrPR4R6RXjg=="),
    ("SSHA512", "{SSHA512}bJzBDlipibazgbdIqQ1ziq6Gzliom0bPnBZOUG0Ld2HD3VEelDoRse+uXpvWNAkJ5UBvJi7OwGjUAxPQ4epqo1MM8bI="),
    ("PBKDF2", "{PBKDF2}$1$6pWmE2vvfHqcQnSO$5000$adc2db8f29f6b5effbcba72c00a7025fff88b16f"),
    ("CRAM-MD5", "{CRAM-MD5}c7b2d57c105fae1c9c9be0456c3217f6767299714b5bda44d975b3e72709af41"),
    ("SHA1", "{SHA1}rS7uKHTXnyVCt9RR2Lh+fJ2k/DM="),
    ("MD5", "{MD5}$1$.B3hohkY$0c2CMUPJxfBZy/vWwnAs11"),
    ("SMD5", "{SMD5}q9Xyff8UtCQ8Dcdf8fTn3t8Jwhs="),
    ("PLAIN-MD5", "{PLAIN-MD5}7124c008ca67e047512f8120c47bb854"),
    ("LDAP-MD5", "{LDAP-MD5}cSTACMpn4EdRL4EgxHu4VA=="),
    ("SCRAM-SHA-1", "{SCRAM-SHA-1}4096,W3Jew8w54eEa1FwHRnbqgg==,VQhGeOsHRC2mVe7s6p+jsRtYhQ4=,h7zncdaGoWhO42HJQLBDa/Q/DAw="),
    ("SCRAM-SHA-256", "{SCRAM-SHA-256}4096,gNVk6LQo+c3ZWk88hE7sKA==,K+tWlBxRV5nFzRpKvsaTo9vV6gvA91YWBEIeHkqZ2/M=,4B85AKaPtZt8kdiA2HOn9DkBWWPIiCRYoz65VGTqys0="),
    ("SHA256.HEX", "{SHA256.HEX}7320ff2d9fbc4eda5ff8ae496978b392aed3f0b8508d3bbd9c060ec6c98389ae"),
    ("SSHA.B64", "{SSHA.B64}jSgpJsI61JEV0WVPGlM59fokmsd7oeUb"),
    ("BLF-CRYPT", "{BLF-CRYPT}$2y$05$sBLund/ZVCNsoLYzyNDO9.ToAcgY/3/4asOzKW/R4/s6Ymip0NyXK"),
];

#[test]
fn dovecot_made_hashes_verify() {
    for (label, hash) in DOVEADM {
        assert_eq!(verify(PW, hash, "CRYPT", "u"), Ok(true), "{label}: {hash}");
    }
}

#[test]
fn dovecot_sha512_crypt_with_rounds_verifies() {
    // doveadm pw -s SHA512-CRYPT -r 5000 -p x
    let h = "{SHA512-CRYPT}$6$Zx9maXU1MJiS5wE7$pp5pvvzTn3zqr/xwclTZhwER8vin2eSEkosmf0nDoA66FSRmdkF5IOkO/XdkLG.OcOH/W48x6EA8Bhr.E5Gy51";
    assert_eq!(verify(b"x", h, "", ""), Ok(true));
    assert_eq!(verify(b"y", h, "", ""), Ok(false));
}

#[test]
fn dovecot_made_hashes_reject_wrong_password() {
    for (label, hash) in DOVEADM {
        assert_eq!(
            verify(b"wrong pw!", hash, "CRYPT", "u"),
            Ok(false),
            "{label}"
        );
        assert_eq!(verify(b"", hash, "CRYPT", "u"), Ok(false), "{label}");
    }
}

#[test]
fn roost_made_hashes_roundtrip_every_scheme() {
    for s in SCHEMES {
        for suffix in ["", ".hex", ".b64"] {
            if s.encoding == Encoding::None && !suffix.is_empty() {
                continue;
            }
            let name = format!("{}{suffix}", s.name);
            let h = generate(&name, PW, "u", None).unwrap();
            assert!(
                h.starts_with(&format!("{{{}}}", name.to_ascii_uppercase())),
                "{h}"
            );
            assert_eq!(verify(PW, &h, "CRYPT", "u"), Ok(true), "{name}: {h}");
            assert_eq!(verify(b"other", &h, "CRYPT", "u"), Ok(false), "{name}: {h}");
        }
    }
}

#[test]
fn bare_hash_uses_default_scheme_and_dollar1_is_md5_crypt() {
    assert_eq!(verify(PW, "secret pw", "PLAIN", "u"), Ok(true));
    assert_eq!(verify(PW, "8BEfM90mCG4Qg", "CRYPT", "u"), Ok(true));
    assert_eq!(
        verify(PW, "$1$SZne8hM/$.avBp/PxydU3iqK5m0n9z.", "PLAIN", "u"),
        Ok(true)
    );
    // Trailing `$…` after a $1$ hash is ignored, as Dovecot does.
    assert_eq!(
        verify(PW, "$1$SZne8hM/$.avBp/PxydU3iqK5m0n9z.$junk", "PLAIN", "u"),
        Ok(true)
    );
    assert_eq!(
        verify(PW, "$6$PUafP5/IsGpUQ9Fn$gIKwwliye338ajopM1.SQ0n1ISWwoAh/aNXJFAZvUC8zz/1pmamQOSBWjxEE3Gfkt28SW9qDf8uj1dlhQNqf6.", "CRYPT", "u"),
        Ok(true)
    );
}

#[test]
fn sha_digest_is_read_as_hex_when_length_says_so() {
    // Dovecot guesses hex for a 40-character SHA value with no suffix.
    let hex = hex_encode(&table::Alg::Sha1.hash(&[PW]));
    assert_eq!(verify(PW, &format!("{{SHA}}{hex}"), "", ""), Ok(true));
    assert_eq!(verify(PW, &format!("{{sha1}}{hex}"), "", ""), Ok(true));
}

#[test]
fn errors_are_precise() {
    assert_eq!(
        verify(PW, "{NOPE}x", "", ""),
        Err(SchemeError::UnknownScheme("NOPE".into()))
    );
    assert_eq!(
        verify(PW, "{SHA.zz}x", "", ""),
        Err(SchemeError::UnknownScheme("SHA.zz".into()))
    );
    assert!(matches!(
        verify(PW, "{SHA256}AAAA", "", ""),
        Err(SchemeError::BadLength {
            got: 3,
            want: 32,
            ..
        })
    ));
    assert!(matches!(
        verify(PW, "{SHA256.HEX}zz", "", ""),
        Err(SchemeError::BadEncoding { .. })
    ));
    assert!(matches!(
        verify(PW, "{PBKDF2}garbage", "", ""),
        Err(SchemeError::Malformed { .. })
    ));
    // An empty crypt hash never matches (DES crypt of "" would otherwise be "").
    assert_eq!(verify(b"", "{CRYPT}", "", ""), Ok(false));
}

#[test]
fn pw_command_generates_and_tests() {
    let h = pw_command("SHA512-CRYPT", "secret pw", None).unwrap();
    assert!(h.starts_with("{SHA512-CRYPT}$6$"), "{h}");
    assert_eq!(
        pw_command("SHA512-CRYPT", "secret pw", Some(&h)).unwrap(),
        format!("{h} (verified)")
    );
    assert_eq!(
        pw_command("CRYPT", "wrong", Some(&h)),
        Err(SchemeError::Mismatch)
    );
    let r = pw_command_full("SHA256-CRYPT", "x", None, "", Some(6000)).unwrap();
    assert!(r.starts_with("{SHA256-CRYPT}$5$rounds=6000$"), "{r}");
    let b = pw_command_full("BLF-CRYPT", "x", None, "", Some(6)).unwrap();
    assert!(b.starts_with("{BLF-CRYPT}$2y$06$"), "{b}");
}

#[test]
fn cram_md5_credentials_restore_hmac_states() {
    let (_, raw) = decode(
        "CRAM-MD5",
        "c7b2d57c105fae1c9c9be0456c3217f6767299714b5bda44d975b3e72709af41",
    )
    .unwrap();
    let (i, o) = table::cram_md5_states(&raw).unwrap();
    let msg = b"<1896.697170952@postoffice.example.net>";
    assert_eq!(md5::hmac_from_states(i, o, msg), md5::hmac(PW, msg));
    assert_eq!(
        credentials(
            "{CRAM-MD5}c7b2d57c105fae1c9c9be0456c3217f6767299714b5bda44d975b3e72709af41",
            "",
            "CRAM-MD5"
        ),
        Some(Credential::Raw(raw))
    );
    assert_eq!(
        credentials("{PLAIN}abc", "", "CRAM-MD5"),
        Some(Credential::Plain(b"abc".to_vec()))
    );
    assert_eq!(
        credentials("{SHA}rS7uKHTXnyVCt9RR2Lh+fJ2k/DM=", "", "CRAM-MD5"),
        None
    );
}

#[test]
fn cheap_schemes_stay_on_async_threads() {
    assert!(is_cheap("{PLAIN}x", "CRYPT"));
    assert!(is_cheap("{SSHA512}x", "CRYPT"));
    assert!(is_cheap("x", "PLAIN"));
    assert!(!is_cheap("x", "CRYPT"));
    assert!(!is_cheap("$1$abc$def", "PLAIN"));
    assert!(!is_cheap("{ARGON2ID}x", "PLAIN"));
    assert!(!is_cheap("{PBKDF2}x", "PLAIN"));
}
