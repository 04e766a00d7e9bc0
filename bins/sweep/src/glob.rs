//! `--exclude GLOB`, matched against a path relative to DIR, as bytes (a
//! name need not be UTF-8): `*` and `?` within one component, `[...]` a
//! class (`!` or `^` negates, `a-z` ranges), `**` as a whole component
//! across components (`**/` also matches none; elsewhere `**` is `*`). As
//! in `.gitignore`: a pattern with no `/` matches a name at any depth
//! (`*.lock` is `**/*.lock`), and one that ends in `/` matches directories
//! only. A pattern that could never match, because it
//! is absolute, is refused with the spelling to use: on a tool that
//! deletes, a filter that protects nothing must not pass in silence.

use std::path::Path;

#[derive(Clone, Debug)]
pub struct Glob {
    /// As the user wrote it, for the log.
    text: String,
    pattern: Vec<u8>,
    dir_only: bool,
}

impl Glob {
    /// `text` as given to `--exclude` for sweeping `dir`.
    pub fn parse(text: &str, dir: &Path) -> Result<Glob, String> {
        if text.is_empty() {
            return Err("an empty pattern".into());
        }
        if text.starts_with('/') {
            return Err(absolute(text, dir));
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
        let relative = text.trim_start_matches("./");
        let dir_only = relative.ends_with('/');
        let relative = relative.trim_end_matches('/');
        if relative.is_empty() {
            return Err(format!(
                "'{text}' names DIR itself: give what to keep inside it, such as '**/*.lock'"
            ));
        }
        let pattern = match relative.contains('/') {
            true => relative.to_string(),
            false => format!("**/{relative}"),
        };
        Ok(Glob {
            text: text.to_string(),
            pattern: pattern.into_bytes(),
            dir_only,
        })
    }

    /// Whether the entry at `path` (relative to DIR) is excluded; `is_dir`
    /// for a pattern that ends in `/`.
    pub fn matches(&self, path: &[u8], is_dir: bool) -> bool {
        (is_dir || !self.dir_only) && matches(&self.pattern, path)
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

/// The refusal of an absolute pattern, with the relative spelling.
fn absolute(text: &str, dir: &Path) -> String {
    let dir_text = dir.to_string_lossy();
    let dir_text = dir_text.trim_end_matches('/');
    let inside = text
        .strip_prefix(dir_text)
        .filter(|rest| !dir_text.is_empty() && rest.starts_with('/'))
        .or_else(|| {
            // DIR given relative, the pattern absolute: compare the real paths.
            let real = std::fs::canonicalize(dir).ok()?;
            let real = real.to_str()?.trim_end_matches('/').to_string();
            let rest = text.strip_prefix(real.as_str())?;
            rest.starts_with('/').then_some(rest)
        });
    match inside.map(|rest| rest.trim_start_matches('/')) {
        Some("") => {
            format!("'{text}' names DIR itself: give what to keep inside it, such as '**/*.lock'")
        }
        Some(rest) => {
            format!("'{text}' includes DIR: patterns are relative to DIR, write '{rest}'")
        }
        None => format!(
            "'{text}' is absolute: patterns are relative to DIR, such as 'a/**' for DIR/a/**"
        ),
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
    // The `**` resume point, and whether it was `**/`, which takes whole
    // components only: `**/x` must not match `ax`.
    let mut globstar: Option<(usize, usize, bool)> = None;
    loop {
        if pi < p.len() {
            match p[pi] {
                // `**` is special only as a whole component, as in
                // .gitignore; `a**` is `a*`.
                b'*' if p.get(pi + 1) == Some(&b'*')
                    && (pi == 0 || p[pi - 1] == b'/')
                    && matches!(p.get(pi + 2), None | Some(&b'/')) =>
                {
                    // `**/` may match nothing, or any run of components.
                    let mut next = pi + 2;
                    let whole_components = p.get(next) == Some(&b'/');
                    if whole_components {
                        next += 1;
                    }
                    globstar = Some((next, si, whole_components));
                    star = None;
                    pi = next;
                    continue;
                }
                b'*' => {
                    while p.get(pi) == Some(&b'*') {
                        pi += 1;
                    }
                    star = Some((pi, si));
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
        if let Some((gp, gs, whole_components)) = globstar {
            let resume = match whole_components {
                // Past the next '/': the start of the next component.
                true => next_slash(&s[gs..]).map(|at| gs + at + 1),
                false => (gs < s.len()).then_some(gs + 1),
            };
            if let Some(resume) = resume {
                globstar = Some((gp, resume, whole_components));
                star = None;
                pi = gp;
                si = resume;
                continue;
            }
        }
        return false;
    }
}

fn next_slash(s: &[u8]) -> Option<usize> {
    s.iter().position(|&c| c == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn glob(pattern: &str) -> Glob {
        Glob::parse(pattern, Path::new("/cache")).unwrap()
    }

    fn m(pattern: &str, path: &str) -> bool {
        glob(pattern).matches(path.as_bytes(), false)
    }

    #[test]
    fn stars_classes_and_globstars() {
        assert!(m("*.tmp", "a.tmp"));
        assert!(
            m("*.tmp", "dir/a.tmp"),
            "no '/': at any depth, as .gitignore"
        );
        assert!(!m("./top/*.tmp", "dir/top/a.tmp"), "a '/': from DIR only");
        assert!(m("**/*.tmp", "a.tmp"), "**/ matches no directory too");
        assert!(m("**/*.tmp", "x/y/a.tmp"));
        assert!(m("cache/**", "cache/a/b"));
        assert!(!m("cache/**", "other/a"));
        assert!(m("keep", "keep"));
        assert!(!m("keep", "keep2"));
        assert!(!m("x", "xx"), "'**/' takes whole components, not a prefix");
        assert!(!m("keep.lock", "a/notkeep.lock"));
        assert!(m("keep.lock", "a/b/keep.lock"));
        assert!(!m("a/**/z", "a/bz"));
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
    fn a_trailing_slash_matches_directories_only() {
        let dirs = glob("a/");
        assert!(dirs.matches(b"a", true) && dirs.matches(b"x/a", true));
        assert!(!dirs.matches(b"a", false));
        assert!(glob("x/a/").matches(b"x/a", true));
    }

    #[test]
    fn patterns_that_could_never_match_are_refused_with_the_spelling() {
        let refused = |text: &str| Glob::parse(text, Path::new("/cache/")).unwrap_err();
        assert_eq!(
            refused("/a/**"),
            "'/a/**' is absolute: patterns are relative to DIR, such as 'a/**' for DIR/a/**"
        );
        assert_eq!(
            refused("/cache/a/**"),
            "'/cache/a/**' includes DIR: patterns are relative to DIR, write 'a/**'"
        );
        assert!(refused("/cache/").contains("names DIR itself"));
        assert!(refused("./").contains("names DIR itself"));
        assert!(refused("/cachex/a").contains("is absolute"));
    }

    #[test]
    fn an_unclosed_class_is_refused() {
        let dir = Path::new("/c");
        assert!(Glob::parse("[abc", dir)
            .unwrap_err()
            .contains("without its ']'"));
        assert!(Glob::parse("", dir).is_err());
    }

    proptest! {
        /// Any pattern against any bytes: an answer, quickly, no panic.
        #[test]
        fn any_pattern_against_any_path_answers(p in "[a-c*?/\\[\\]!^-]{0,12}", s in proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), Just(b'/'), any::<u8>()], 0..40)) {
            if let Ok(glob) = Glob::parse(&p, Path::new("/c")) {
                let _ = glob.matches(&s, false);
            }
        }

        /// The matcher agrees with the glob crate (Rust's own, with '*' kept
        /// within a component) on patterns both read the same way: the
        /// reference that found '**/x' matching 'xx'.
        #[test]
        fn the_matcher_agrees_with_the_glob_crate(
            pattern in proptest::collection::vec(prop_oneof![
                3 => "([ab.*?]|\\[!?[ab]\\]|\\[a-b\\]){1,4}",
                1 => Just("**".to_string()),
            ], 1..5),
            path in proptest::collection::vec("[ab.]{1,3}", 1..5),
        ) {
            let pattern = pattern.join("/");
            let path = path.join("/");
            // The glob crate refuses '**' inside a name (ours reads it as '*').
            let Ok(reference) = glob::Pattern::new(&pattern) else {
                return Ok(());
            };
            let options = glob::MatchOptions {
                case_sensitive: true,
                require_literal_separator: true,
                require_literal_leading_dot: false,
            };
            prop_assert_eq!(
                matches(pattern.as_bytes(), path.as_bytes()),
                reference.matches_with(&path, options),
                "pattern {} on path {}", pattern, path
            );
        }

        /// A literal path matches itself and only itself.
        #[test]
        fn a_literal_matches_itself(s in "[a-z0-9._-][a-z0-9._/-]{0,29}") {
            let Ok(glob) = Glob::parse(&s, Path::new("/c")) else {
                // Only what names DIR itself ('.', './') is refused.
                prop_assert!(s.trim_start_matches("./").trim_end_matches('/').is_empty());
                return Ok(());
            };
            let path = s.trim_start_matches("./").trim_end_matches('/');
            prop_assert!(glob.matches(path.as_bytes(), true));
            let longer = format!("{path}x");
            prop_assert!(!glob.matches(longer.as_bytes(), true));
        }
    }
}
