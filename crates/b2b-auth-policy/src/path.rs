//! Path canonicalisation, shared by the policy and the caller, so that the resource authorised
//! is the resource served.

use std::borrow::Cow;

use crate::error::{PathError, PathErrorKind};

/// What [`canonical_path`] does with a path that has more than one spelling.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
#[non_exhaustive]
pub enum PathMode {
    /// Refuse it. The default: nothing is rewritten behind the router's back.
    #[default]
    Reject,
    /// Rewrite it to its one canonical spelling (RFC 3986 §6.2.2): collapse `//`, resolve `.`
    /// and `..` segments, decode percent-encoded unreserved characters, uppercase
    /// percent-encoding hex digits. The caller must then route the rewritten path.
    Normalize,
}

/// Checks (or, with [`PathMode::Normalize`], rewrites) a request path so that it has exactly
/// one spelling.
///
/// Always refused: a path not starting with `/`; an encoded `/` or `\` (`%2F`, `%5C`) or a raw
/// `\`, which routers disagree on; `?`, `#`, control characters and `%00`; a `%` not followed
/// by two hex digits; `..` above the root. With [`PathMode::Reject`] also refused: `//`,
/// `.` and `..` segments (also as `%2E`), percent-encoded unreserved characters (`%41`) and
/// lowercase hex digits (`%c3`). The path is taken without its query.
///
/// A path returned by either mode passes [`PathMode::Reject`] unchanged.
///
/// # Errors
/// [`PathError`] saying what is wrong.
///
/// ```
/// use b2b_auth_policy::{PathMode, canonical_path};
///
/// assert_eq!(canonical_path("/orders/42", PathMode::Reject)?, "/orders/42");
/// assert!(canonical_path("/orders/../admin", PathMode::Reject).is_err());
/// assert_eq!(canonical_path("/orders//./%34%32", PathMode::Normalize)?, "/orders/42");
/// assert!(canonical_path("/orders%2F42", PathMode::Normalize).is_err());
/// # Ok::<(), b2b_auth_policy::PathError>(())
/// ```
pub fn canonical_path(path: &str, mode: PathMode) -> Result<Cow<'_, str>, PathError> {
    let fail = |kind| Err(PathError::new(kind));
    let Some(rest) = path.strip_prefix('/') else {
        return fail(PathErrorKind::NotAbsolute);
    };
    let count = rest.split('/').count();
    // Only a rewrite needs the segments; checking a canonical path allocates nothing.
    let mut segments: Vec<Cow<'_, str>> = Vec::new();
    let mut changed = false;
    let mut trailing_slash = false;
    for (index, raw) in rest.split('/').enumerate() {
        let last = index + 1 == count;
        let segment = segment(raw, mode)?;
        changed |= matches!(segment, Cow::Owned(_));
        match &*segment {
            // The root, or a trailing slash: `/a/` and `/a` may be different resources.
            "" if last => trailing_slash = true,
            "" | "." | ".." if mode == PathMode::Reject => {
                let kind = if segment.is_empty() {
                    PathErrorKind::EmptySegment
                } else {
                    PathErrorKind::DotSegment
                };
                return fail(kind);
            }
            "" | "." => {
                changed = true;
                trailing_slash = last;
            }
            ".." => {
                changed = true;
                trailing_slash = last;
                if segments.pop().is_none() {
                    return fail(PathErrorKind::AboveRoot);
                }
            }
            _ if mode == PathMode::Normalize => segments.push(segment),
            _ => {}
        }
    }
    if !changed {
        return Ok(Cow::Borrowed(path));
    }
    let mut out = String::with_capacity(path.len());
    for segment in &segments {
        out.push('/');
        out.push_str(segment);
    }
    if out.is_empty() || trailing_slash {
        out.push('/');
    }
    Ok(Cow::Owned(out))
}

/// One segment: checks its characters and percent-encodings, decoding or uppercasing them in
/// `Normalize` mode.
fn segment(raw: &str, mode: PathMode) -> Result<Cow<'_, str>, PathError> {
    let fail = |kind| Err(PathError::new(kind));
    let bytes = raw.as_bytes();
    let mut out: Option<String> = None;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => return fail(PathErrorKind::EncodedSeparator),
            b'?' | b'#' => return fail(PathErrorKind::ForbiddenCharacter),
            _ if b.is_ascii_control() => return fail(PathErrorKind::ForbiddenCharacter),
            b'%' => {
                let (Some(&hi), Some(&lo)) = (bytes.get(i + 1), bytes.get(i + 2)) else {
                    return fail(PathErrorKind::InvalidPercentEncoding);
                };
                let (Some(h), Some(l)) = (hex(hi), hex(lo)) else {
                    return fail(PathErrorKind::InvalidPercentEncoding);
                };
                let decoded = h << 4 | l;
                match decoded {
                    b'/' | b'\\' => return fail(PathErrorKind::EncodedSeparator),
                    0 => return fail(PathErrorKind::ForbiddenCharacter),
                    _ => {}
                }
                let unreserved = decoded.is_ascii_alphanumeric() || b"-._~".contains(&decoded);
                let lowercase = hi.is_ascii_lowercase() || lo.is_ascii_lowercase();
                if unreserved || lowercase {
                    if mode == PathMode::Reject {
                        let kind = if decoded == b'.' {
                            PathErrorKind::DotSegment
                        } else {
                            PathErrorKind::NonCanonicalEncoding
                        };
                        return fail(kind);
                    }
                    let out =
                        out.get_or_insert_with(|| raw.get(..i).unwrap_or_default().to_owned());
                    if unreserved {
                        out.push(char::from(decoded));
                    } else {
                        out.push('%');
                        out.push(char::from(hi.to_ascii_uppercase()));
                        out.push(char::from(lo.to_ascii_uppercase()));
                    }
                } else if let Some(out) = &mut out {
                    out.push_str(raw.get(i..i + 3).unwrap_or_default());
                }
                i += 3;
                continue;
            }
            _ => {}
        }
        // Copy one whole UTF-8 character.
        let len = raw.get(i..).and_then(|s| s.chars().next()).map_or(1, char::len_utf8);
        if let Some(out) = &mut out {
            out.push_str(raw.get(i..i + len).unwrap_or_default());
        }
        i += len;
    }
    Ok(out.map_or(Cow::Borrowed(raw), Cow::Owned))
}

fn hex(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn reject(path: &str) -> Result<Cow<'_, str>, PathErrorKind> {
        canonical_path(path, PathMode::Reject).map_err(|e| e.kind())
    }

    fn normalize(path: &str) -> Result<String, PathErrorKind> {
        canonical_path(path, PathMode::Normalize).map(Cow::into_owned).map_err(|e| e.kind())
    }

    #[test]
    fn canonical_paths_pass_unchanged_and_borrowed() {
        for path in ["/", "/orders", "/orders/", "/orders/42/items", "/caf%C3%A9", "/a%20b", "/é"]
        {
            assert!(matches!(reject(path), Ok(Cow::Borrowed(p)) if p == path), "{path}");
            assert_eq!(normalize(path).unwrap(), path);
        }
    }

    #[test]
    fn reject_mode_refuses_every_second_spelling() {
        assert_eq!(reject("orders").unwrap_err(), PathErrorKind::NotAbsolute);
        assert_eq!(reject("").unwrap_err(), PathErrorKind::NotAbsolute);
        assert_eq!(reject("*").unwrap_err(), PathErrorKind::NotAbsolute);
        assert_eq!(reject("//orders").unwrap_err(), PathErrorKind::EmptySegment);
        assert_eq!(reject("/a//b").unwrap_err(), PathErrorKind::EmptySegment);
        assert_eq!(reject("/a/./b").unwrap_err(), PathErrorKind::DotSegment);
        assert_eq!(reject("/a/../b").unwrap_err(), PathErrorKind::DotSegment);
        assert_eq!(reject("/a/%2e%2e/b").unwrap_err(), PathErrorKind::DotSegment);
        assert_eq!(reject("/a/%2E/b").unwrap_err(), PathErrorKind::DotSegment);
        assert_eq!(reject("/%61dmin").unwrap_err(), PathErrorKind::NonCanonicalEncoding);
        assert_eq!(reject("/caf%c3%a9").unwrap_err(), PathErrorKind::NonCanonicalEncoding);
    }

    #[test]
    fn both_modes_refuse_what_cannot_be_normalised() {
        for path in ["/a%2Fb", "/a%2fb", "/a%5Cb", "/a\\b"] {
            assert_eq!(reject(path).unwrap_err(), PathErrorKind::EncodedSeparator, "{path}");
            assert_eq!(normalize(path).unwrap_err(), PathErrorKind::EncodedSeparator, "{path}");
        }
        for path in ["/a%", "/a%2", "/a%zz", "/a%%41"] {
            assert_eq!(
                normalize(path).unwrap_err(),
                PathErrorKind::InvalidPercentEncoding,
                "{path}"
            );
        }
        for path in ["/a%00", "/a?b", "/a#b", "/a\tb"] {
            assert_eq!(normalize(path).unwrap_err(), PathErrorKind::ForbiddenCharacter, "{path}");
        }
        assert_eq!(normalize("/..").unwrap_err(), PathErrorKind::AboveRoot);
        assert_eq!(normalize("/a/../../b").unwrap_err(), PathErrorKind::AboveRoot);
    }

    #[test]
    fn normalize_mode_rewrites_to_one_spelling() {
        assert_eq!(normalize("//orders").unwrap(), "/orders");
        assert_eq!(normalize("/orders/./42/").unwrap(), "/orders/42/");
        assert_eq!(normalize("/orders/x/../42").unwrap(), "/orders/42");
        assert_eq!(normalize("/orders/%2e%2E/admin").unwrap(), "/admin");
        assert_eq!(normalize("/%61dmin").unwrap(), "/admin");
        assert_eq!(normalize("/caf%c3%a9").unwrap(), "/caf%C3%A9");
        assert_eq!(normalize("/a/..").unwrap(), "/");
        assert_eq!(normalize("/a/.").unwrap(), "/a/");
        assert_eq!(normalize("/a/b/..").unwrap(), "/a/");
    }

    proptest! {
        #[test]
        fn normalized_paths_are_canonical(path in "/[a-c./%2eEfF5]{0,24}") {
            if let Ok(normal) = canonical_path(&path, PathMode::Normalize) {
                let again = canonical_path(&normal, PathMode::Reject);
                prop_assert_eq!(again.as_deref(), Ok(&*normal));
            }
        }
    }
}
