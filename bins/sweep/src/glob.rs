//! `--exclude GLOB`, matched against a path relative to DIR, as bytes (a
//! name need not be UTF-8): `*` and `?` within one component, `[...]` a
//! class (`!` or `^` negates, `a-z` ranges), `**` across components (`**/`
//! also matches none).

#[derive(Clone, Debug)]
pub struct Glob {
    pattern: Vec<u8>,
}

impl Glob {
    pub fn parse(text: &str) -> Result<Glob, String> {
        if text.is_empty() {
            return Err("an empty pattern".into());
        }
        let bytes = text.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            if bytes[at] == b'[' {
                at = class_end(bytes, at)
                    .ok_or_else(|| format!("'{text}': a '[' without its ']'"))?;
            }
            at += 1;
        }
        Ok(Glob {
            pattern: text.trim_start_matches("./").as_bytes().to_vec(),
        })
    }

    pub fn matches(&self, path: &[u8]) -> bool {
        matches(&self.pattern, path)
    }
}

/// The index of the `]` closing the class that starts at `at`.
fn class_end(p: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 1;
    if i < p.len() && (p[i] == b'!' || p[i] == b'^') {
        i += 1;
    }
    // A `]` first in the class is a member.
    if i < p.len() && p[i] == b']' {
        i += 1;
    }
    while i < p.len() && p[i] != b']' {
        i += 1;
    }
    (i < p.len()).then_some(i)
}

/// Whether byte `c` is in the class `p[at..=end]` (`p[at]` is `[`, `p[end]`
/// its `]`).
fn in_class(p: &[u8], at: usize, end: usize, c: u8) -> bool {
    let mut i = at + 1;
    let negated = p[i] == b'!' || p[i] == b'^';
    if negated {
        i += 1;
    }
    let mut found = false;
    while i < end {
        if i + 2 < end && p[i + 1] == b'-' {
            found |= (p[i]..=p[i + 2]).contains(&c);
            i += 3;
        } else {
            found |= p[i] == c;
            i += 1;
        }
    }
    found != negated
}

/// Iterative matching with backtracking to the last star, as fnmatch does;
/// bounded by the pattern and path lengths (no exponential blow-up: each
/// star kind keeps one resume point).
fn matches(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    // Resume points: for `*` (within a component) and for `**` (across).
    let mut star: Option<(usize, usize)> = None;
    let mut globstar: Option<(usize, usize)> = None;
    loop {
        if pi < p.len() {
            match p[pi] {
                b'*' if p.get(pi + 1) == Some(&b'*') => {
                    // `**/` may match nothing, or any run of components.
                    let mut next = pi + 2;
                    if p.get(next) == Some(&b'/') {
                        next += 1;
                    }
                    globstar = Some((next, si));
                    star = None;
                    pi = next;
                    continue;
                }
                b'*' => {
                    star = Some((pi + 1, si));
                    pi += 1;
                    continue;
                }
                b'?' if si < s.len() && s[si] != b'/' => {
                    pi += 1;
                    si += 1;
                    continue;
                }
                b'[' => {
                    if let Some(end) = class_end(p, pi) {
                        if si < s.len() && s[si] != b'/' && in_class(p, pi, end, s[si]) {
                            pi = end + 1;
                            si += 1;
                            continue;
                        }
                    } else if si < s.len() && s[si] == b'[' {
                        pi += 1;
                        si += 1;
                        continue;
                    }
                }
                c if c != b'?' && si < s.len() && s[si] == c => {
                    pi += 1;
                    si += 1;
                    continue;
                }
                _ => {}
            }
        } else if si == s.len() {
            return true;
        }
        // A mismatch: let the last `*` take one more byte of this component,
        // else the last `**` one more byte of anything.
        if let Some((sp, ss)) = star {
            if ss < s.len() && s[ss] != b'/' {
                star = Some((sp, ss + 1));
                pi = sp;
                si = ss + 1;
                continue;
            }
        }
        if let Some((gp, gs)) = globstar {
            if gs < s.len() {
                globstar = Some((gp, gs + 1));
                star = None;
                pi = gp;
                si = gs + 1;
                continue;
            }
        }
        return false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(pattern: &str, path: &str) -> bool {
        Glob::parse(pattern).unwrap().matches(path.as_bytes())
    }

    #[test]
    fn stars_classes_and_globstars() {
        assert!(m("*.tmp", "a.tmp"));
        assert!(!m("*.tmp", "dir/a.tmp"), "* stays in one component");
        assert!(m("**/*.tmp", "a.tmp"), "**/ matches no directory too");
        assert!(m("**/*.tmp", "x/y/a.tmp"));
        assert!(m("cache/**", "cache/a/b"));
        assert!(!m("cache/**", "other/a"));
        assert!(m("keep", "keep"));
        assert!(!m("keep", "keep2"));
        assert!(m("?.log", "a.log"));
        assert!(!m("?.log", "/.log"));
        assert!(m("[a-c]x", "bx"));
        assert!(!m("[!a-c]x", "bx"));
        assert!(m("[^a-c]x", "dx"));
        assert!(m("a/**/z", "a/z"));
        assert!(m("a/**/z", "a/b/c/z"));
        assert!(m("*", "-rf"));
        assert!(m("./lock", "lock"));
    }

    #[test]
    fn an_unclosed_class_is_refused() {
        assert!(Glob::parse("[abc").unwrap_err().contains("without its ']'"));
        assert!(Glob::parse("").is_err());
    }

    proptest! {
        /// Any pattern against any bytes: an answer, quickly, no panic.
        #[test]
        fn any_pattern_against_any_path_answers(p in "[a-c*?/\\[\\]!^-]{0,12}", s in proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), Just(b'/'), any::<u8>()], 0..40)) {
            if let Ok(glob) = Glob::parse(&p) {
                let _ = glob.matches(&s);
            }
        }

        /// A literal path matches itself and only itself.
        #[test]
        fn a_literal_matches_itself(s in "[a-z0-9._/-]{1,30}") {
            let glob = Glob::parse(&s).unwrap();
            prop_assert!(glob.matches(s.trim_start_matches("./").as_bytes()));
            let longer = format!("{s}x");
            prop_assert!(!glob.matches(longer.as_bytes()));
        }
    }
}
