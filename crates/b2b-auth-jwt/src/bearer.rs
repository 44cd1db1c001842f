//! The bearer token of an `Authorization` header (RFC 6750 §2.1).

use crate::error::{VerifyError, VerifyErrorKind};

/// The token of an `Authorization: Bearer <token>` header value.
///
/// The scheme is matched case-insensitively (RFC 9110 §11.1); the token must be one RFC 6750
/// `b64token` (`A-Z a-z 0-9 - . _ ~ + /`, then `=` padding only).
///
/// ```
/// use b2b_auth_jwt::{VerifyErrorKind, bearer_token};
///
/// assert_eq!(bearer_token(b"Bearer eyJ.eyJ.sig")?, "eyJ.eyJ.sig");
/// assert_eq!(bearer_token(b"Basic dXNlcjpwYXNz").unwrap_err().kind(), VerifyErrorKind::MissingToken);
/// assert_eq!(bearer_token(b"Bearer a b").unwrap_err().kind(), VerifyErrorKind::InvalidRequest);
/// # Ok::<(), b2b_auth_jwt::VerifyError>(())
/// ```
///
/// # Errors
/// [`VerifyErrorKind::MissingToken`] for another scheme (the request carries no bearer
/// token), [`VerifyErrorKind::InvalidRequest`] for a `Bearer` value that is not one
/// `b64token`.
pub fn bearer_token(authorization: &[u8]) -> Result<&str, VerifyError> {
    let (scheme, rest) = match authorization.iter().position(|b| *b == b' ') {
        Some(space) => authorization.split_at(space),
        None => (authorization, &b""[..]),
    };
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return Err(VerifyError::new(VerifyErrorKind::MissingToken));
    }
    let token = rest.trim_ascii_start();
    let body_len = token
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || b"-._~+/".contains(b)))
        .unwrap_or(token.len());
    let padding_ok = token.get(body_len..).is_some_and(|pad| pad.iter().all(|b| *b == b'='));
    if body_len == 0 || !padding_ok {
        return Err(VerifyError::new(VerifyErrorKind::InvalidRequest));
    }
    // Only ASCII bytes were accepted above.
    std::str::from_utf8(token).map_err(|_| VerifyError::new(VerifyErrorKind::InvalidRequest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_values() {
        assert_eq!(bearer_token(b"bearer abc").unwrap(), "abc");
        assert_eq!(bearer_token(b"BEARER  a.b-c_d~e+f/g==").unwrap(), "a.b-c_d~e+f/g==");
        for missing in [&b""[..], b"Basic abc", b"Bearerabc", b"Token abc"] {
            assert_eq!(bearer_token(missing).unwrap_err().kind(), VerifyErrorKind::MissingToken);
        }
        for invalid in [
            &b"Bearer"[..],
            b"Bearer ",
            b"Bearer a b",
            b"Bearer a=b",
            b"Bearer =",
            b"Bearer \xff",
            b"Bearer a,b",
        ] {
            assert_eq!(
                bearer_token(invalid).unwrap_err().kind(),
                VerifyErrorKind::InvalidRequest,
                "{invalid:?}"
            );
        }
    }
}
