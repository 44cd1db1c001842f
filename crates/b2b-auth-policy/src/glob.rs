//! IAM wildcards: `*` matches any run of characters (`/` included), `?` exactly one.

/// Matches `text` against `pattern`, comparing ASCII case-insensitively when `fold_case`.
///
/// Iterative, with backtracking to the last `*` only: O(pattern × text) at worst, no
/// recursion, no allocation.
pub(crate) fn glob_match(pattern: &str, text: &str, fold_case: bool) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let same = |a: u8, b: u8| if fold_case { a.eq_ignore_ascii_case(&b) } else { a == b };
    let (mut pi, mut ti) = (0, 0);
    // Where to resume after the last `*`: the pattern after it, and the text it has eaten to.
    let mut resume: Option<(usize, usize)> = None;
    while let Some(&tb) = t.get(ti) {
        match p.get(pi) {
            Some(b'*') => {
                pi += 1;
                resume = Some((pi, ti));
                continue;
            }
            Some(b'?') => {
                pi += 1;
                ti += char_len(tb);
                continue;
            }
            Some(&pb) if same(pb, tb) => {
                pi += 1;
                ti += 1;
                continue;
            }
            _ => {}
        }
        let Some((after_star, eaten)) = resume else {
            return false;
        };
        let next = eaten + t.get(eaten).map_or(1, |&b| char_len(b));
        resume = Some((after_star, next));
        pi = after_star;
        ti = next;
    }
    p.get(pi..).is_some_and(|rest| rest.iter().all(|&b| b == b'*'))
}

/// True when the pattern has a wildcard.
pub(crate) fn has_wildcard(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

/// The length of the UTF-8 character that starts with `lead`.
fn char_len(lead: u8) -> usize {
    match lead {
        0xf0.. => 4,
        0xe0.. => 3,
        0xc0.. => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn star_crosses_slashes_and_question_mark_is_one_character() {
        assert!(glob_match("api/prod/GET/*", "api/prod/GET/a/b", false));
        assert!(glob_match("api/*/GET/*", "api/prod/GET/", false));
        assert!(!glob_match("api/prod/GET/*/stats", "api/prod/GET/dinosaurs/all-stats", false));
        assert!(glob_match("api/prod/GET/*/stats", "api/prod/GET/dinosaurs/x/stats", false));
        assert!(glob_match("a?c", "abc", false));
        assert!(glob_match("a?c", "aéc", false));
        assert!(!glob_match("a?c", "ac", false));
        assert!(glob_match("*", "", false));
        assert!(!glob_match("", "a", false));
        assert!(glob_match("**a**", "xxa", false));
    }

    #[test]
    fn case_is_significant_unless_folded() {
        assert!(!glob_match("api/prod/GET/Orders", "api/prod/GET/orders", false));
        assert!(glob_match("execute-api:invoke", "execute-api:Invoke", true));
        assert!(glob_match("execute-api:*", "EXECUTE-API:Invoke", true));
    }

    /// A slow, obviously correct reference: recursive matching over characters.
    fn reference(p: &[char], t: &[char]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some('*'), _) => reference(&p[1..], t) || (!t.is_empty() && reference(p, &t[1..])),
            (Some('?'), Some(_)) => reference(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => reference(&p[1..], &t[1..]),
            _ => false,
        }
    }

    proptest! {
        #[test]
        fn agrees_with_a_recursive_reference(p in "[ab*?é/]{0,8}", t in "[abé/]{0,10}") {
            let (pc, tc): (Vec<char>, Vec<char>) = (p.chars().collect(), t.chars().collect());
            prop_assert_eq!(glob_match(&p, &t, false), reference(&pc, &tc));
        }
    }
}
