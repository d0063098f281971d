//! Drives one SASL exchange through the in-process auth API: challenges go out framed by the
//! protocol (`+ ` for POP3 and IMAP, `334 ` for SMTP), responses come back base64-encoded
//! lines, `*` aborts (RFC 5034, 3501, 4954). Both the client's responses and auth's answers
//! are awaited under the client's watch (kick, shutdown, login deadline).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::client::LoginClient;
use crate::service::auth::api::{BeginError, Step};
use crate::service::wire::{End, Wire};

/// Longest SASL response line.
pub const MAX_RESPONSE: usize = 65536;

/// How the exchange ended.
#[derive(Debug)]
pub enum Outcome {
    Success {
        user: String,
        fields: Vec<(String, String)>,
    },
    /// Wrong credentials (or `reason` from the passdb).
    Failed {
        reason: Option<String>,
    },
    /// `temp_fail`: try again later.
    TempFail {
        reason: Option<String>,
    },
    Aborted,
    UnknownMechanism,
    PlaintextDisabled,
    InvalidBase64,
    /// The connection ended while waiting for a response.
    Ended(End),
}

/// Decodes a client response line (`=` is an empty response).
pub fn decode(line: &[u8]) -> Option<Vec<u8>> {
    if line == b"=" {
        return Some(Vec::new());
    }
    STANDARD.decode(line).ok()
}

/// Runs the exchange. `initial` is the already-decoded initial response, if any.
pub async fn authenticate(
    client: &LoginClient,
    wire: &mut Wire,
    mechanism: &str,
    initial: Option<Vec<u8>>,
    challenge_prefix: &str,
) -> Outcome {
    let Some(auth) = client.auth.clone() else {
        return Outcome::TempFail { reason: None };
    };
    let mut exchange = match auth.0.begin(mechanism, client.client_info(&wire.conn)) {
        Ok(x) => x,
        Err(BeginError::UnknownMechanism) => return Outcome::UnknownMechanism,
        Err(BeginError::PlaintextDisabled) => return Outcome::PlaintextDisabled,
    };
    let mut response = initial;
    loop {
        let step = match client.watch().guard(exchange.step(response.take())).await {
            Ok(s) => s,
            Err(e) => return Outcome::Ended(e),
        };
        match step {
            Step::Continue(challenge) => {
                let line = format!("{challenge_prefix}{}\r\n", STANDARD.encode(&challenge));
                wire.queue(line.as_bytes());
                let line = match wire.next_line(MAX_RESPONSE, &client.watch()).await {
                    Ok(Ok(l)) => l,
                    Ok(Err(_)) => return Outcome::InvalidBase64,
                    Err(e) => return Outcome::Ended(e),
                };
                if line == b"*" {
                    return Outcome::Aborted;
                }
                match decode(&line) {
                    Some(r) => response = Some(r),
                    None => return Outcome::InvalidBase64,
                }
            }
            Step::Success { user, fields, .. } => return Outcome::Success { user, fields },
            Step::Fail { code, reason, .. } => {
                return if code == crate::service::auth::fail_code::FailCode::TempFail {
                    Outcome::TempFail { reason }
                } else {
                    Outcome::Failed { reason }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_responses() {
        assert_eq!(decode(b"="), Some(Vec::new()));
        assert_eq!(decode(b"AGJvYgBwYXNz"), Some(b"\0bob\0pass".to_vec()));
        assert_eq!(decode(b"!!"), None);
    }
}
