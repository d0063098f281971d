//! [`FailCode`]: why an authentication failed, as the auth-client protocol's `FAIL … code=`
//! field names it. Used from the mechanisms through the request to the socket and the
//! in-process API; [`FailCode::as_str`] is the wire text.

/// The `code=` of a `FAIL` reply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FailCode {
    /// A plain failure (wrong password, unknown user, bad input): no `code=` field.
    #[default]
    None,
    /// A db or scheme failed; the client may try again later.
    TempFail,
    /// Authenticated, but may not log in as the requested user (master-user logins).
    AuthzFail,
    /// A `deny` passdb matched or the account is disabled.
    UserDisabled,
    /// The password has expired.
    PassExpired,
    /// A response was not valid base64.
    InvalidBase64,
}

impl FailCode {
    /// The wire text (`""` for [`FailCode::None`]).
    pub fn as_str(self) -> &'static str {
        match self {
            FailCode::None => "",
            FailCode::TempFail => "temp_fail",
            FailCode::AuthzFail => "authz_fail",
            FailCode::UserDisabled => "user_disabled",
            FailCode::PassExpired => "pass_expired",
            FailCode::InvalidBase64 => "invalid_base64",
        }
    }

    /// Whether this is a temporary failure.
    pub fn is_temp(self) -> bool {
        self == FailCode::TempFail
    }
}

impl std::fmt::Display for FailCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::FailCode;

    #[test]
    fn wire_text_is_dovecots() {
        let all = [
            (FailCode::None, ""),
            (FailCode::TempFail, "temp_fail"),
            (FailCode::AuthzFail, "authz_fail"),
            (FailCode::UserDisabled, "user_disabled"),
            (FailCode::PassExpired, "pass_expired"),
            (FailCode::InvalidBase64, "invalid_base64"),
        ];
        for (c, s) in all {
            assert_eq!(c.as_str(), s);
            assert_eq!(c.to_string(), s);
            assert_eq!(c.is_temp(), s == "temp_fail");
        }
        assert_eq!(FailCode::default(), FailCode::None);
    }
}
