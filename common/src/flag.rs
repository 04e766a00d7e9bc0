//! A flag is declared once, as ripgrep declares it: its spelling and a
//! sample of what follows it, in one list per binary (`options::FLAGS`) and
//! one per shared group (`log::FLAGS`, `tls::FLAGS`, ...). The parser takes
//! no flag that a list does not declare ([`declared`], over the spellings
//! [`spelled`] makes at compile time; in debug builds), and each binary's
//! unit test ([`check`]) holds its `--help`, its `docs/NAME.md` and its
//! parser to the lists: a flag declared and not parsed, not in the help or
//! not in the page fails `cargo test -p NAME` in seconds.

use std::collections::BTreeSet;

/// Why argument parsing stopped before a run.
#[derive(Debug)]
pub enum Stop {
    Help,
    Version,
    Usage(String),
}

impl From<lexopt::Error> for Stop {
    fn from(err: lexopt::Error) -> Self {
        Stop::Usage(err.to_string())
    }
}

#[derive(Debug)]
pub struct Flag {
    /// The long spelling without its dashes, as lexopt gives it.
    pub long: &'static str,
    pub short: Option<char>,
    /// What follows the flag in a command line that parses: its value, and
    /// any other flag it needs (`--low-water` needs `--max-size`). Empty for
    /// a switch.
    pub sample: &'static [&'static str],
    /// The command line it follows in that sample, where the binary's usual
    /// one does not fit (a modifier follows its check).
    pub after: Option<&'static [&'static str]>,
}

impl Flag {
    /// A flag with a value: `sample` is what follows it.
    pub const fn new(long: &'static str, sample: &'static [&'static str]) -> Flag {
        Flag {
            long,
            short: None,
            sample,
            after: None,
        }
    }

    /// A flag without a value.
    pub const fn switch(long: &'static str) -> Flag {
        Flag::new(long, &[])
    }

    /// Sampled after `args` instead of the binary's usual command line.
    pub const fn after(self, args: &'static [&'static str]) -> Flag {
        Flag {
            after: Some(args),
            ..self
        }
    }

    /// Also spelled `-c`.
    pub const fn short(self, c: char) -> Flag {
        Flag {
            short: Some(c),
            ..self
        }
    }
}

/// `-h, --help` and `-V, --version`: every binary's.
pub const STANDARD: &[Flag] = &[
    Flag::switch("help").short('h'),
    Flag::switch("version").short('V'),
];

/// A flag as the parser knows it: its long name and its short one. Made
/// from the lists at compile time ([`spelled`]), so that the samples stay
/// in the tests and out of the executables. (Pointers to the names, which
/// the match arms hold anyway: a table of the names' bytes instead measured
/// larger.)
pub type Spelling = (&'static str, Option<char>);

/// How many flags `lists` declare: the length of [`spelled`]'s array.
pub const fn count(lists: &[&[Flag]]) -> usize {
    let (mut i, mut n) = (0, 0);
    while i < lists.len() {
        n += lists[i].len();
        i += 1;
    }
    n
}

/// The spellings of every flag of `lists`, evaluated at compile time:
/// `const PARSED: [Spelling; count(ALL_FLAGS)] = spelled(ALL_FLAGS);`.
pub const fn spelled<const N: usize>(lists: &[&[Flag]]) -> [Spelling; N] {
    let mut out: [Spelling; N] = [("", None); N];
    let (mut i, mut k) = (0, 0);
    while i < lists.len() {
        let mut j = 0;
        while j < lists[i].len() {
            out[k] = (lists[i][j].long, lists[i][j].short);
            k += 1;
            j += 1;
        }
        i += 1;
    }
    assert!(k == N, "N is not count(lists)");
    out
}

/// Refuses a flag that `parsed` does not spell, in lexopt's words
/// (`invalid option '--x'`, which the usage line completes with the
/// nearest flag), so that a match arm without a declaration is never
/// reached.
///
/// A guard for the code, not for the user: in a release build a flag
/// without an arm meets the parser's own `invalid option` in the same
/// words, so it is checked only where tests run (debug builds). That keeps
/// the table out of the executables (measured: 4 KB of the multicall).
pub fn declared(arg: &lexopt::Arg, parsed: &[Spelling]) -> Result<(), Stop> {
    if !cfg!(debug_assertions) {
        return Ok(());
    }
    match arg {
        lexopt::Arg::Long(name) if !has(parsed, name) => {
            Err(Stop::Usage(format!("invalid option '--{name}'")))
        }
        lexopt::Arg::Short(c) if !parsed.iter().any(|(_, short)| *short == Some(*c)) => {
            Err(Stop::Usage(format!("invalid option '-{c}'")))
        }
        _ => Ok(()),
    }
}

/// Whether `parsed` spells the long flag `name` (without its dashes).
pub fn has(parsed: &[Spelling], name: &str) -> bool {
    parsed.iter().any(|(long, _)| *long == name)
}

/// Every spelling the lists declare: `--long` and `-s`.
pub fn spellings(lists: &[&[Flag]]) -> BTreeSet<String> {
    lists
        .iter()
        .flat_map(|list| list.iter())
        .flat_map(|flag| {
            let short = flag.short.map(|c| format!("-{c}"));
            std::iter::once(format!("--{}", flag.long)).chain(short)
        })
        .collect()
}

/// The test each binary runs on its own lists: the help and the docs page
/// name exactly the declared flags (`others` are flags of other programs
/// that the help or the page shows in an example, such as every's), and
/// each declared flag, in each spelling, followed by its sample, parses
/// after `base` (a command line that parses by itself) or its own `after`. Panics with what
/// differs.
pub fn check<T>(
    lists: &[&[Flag]],
    help: &str,
    page: &str,
    others: &[&str],
    base: &[&str],
    parse: impl Fn(lexopt::Parser) -> Result<T, Stop>,
) {
    let declared = spellings(lists);
    let others: BTreeSet<String> = others.iter().map(|s| s.to_string()).collect();
    for (what, text) in [("--help", help), ("its docs page", page)] {
        let named: BTreeSet<String> = flags_in(text).difference(&others).cloned().collect();
        let undeclared: Vec<_> = named.difference(&declared).collect();
        let unnamed: Vec<_> = declared.difference(&named).collect();
        assert!(
            undeclared.is_empty() && unnamed.is_empty(),
            "{what} names flags no list declares: {undeclared:?}; declared flags {what} does not name: {unnamed:?}"
        );
    }
    for flag in lists.iter().flat_map(|list| list.iter()) {
        if matches!(flag.long, "help" | "version") {
            continue;
        }
        let long = format!("--{}", flag.long);
        let short = flag.short.map(|c| format!("-{c}"));
        for spelling in std::iter::once(&long).chain(short.as_ref()) {
            let args: Vec<&str> = flag
                .after
                .unwrap_or(base)
                .iter()
                .copied()
                .chain(std::iter::once(spelling.as_str()))
                .chain(flag.sample.iter().copied())
                .collect();
            if let Err(stop) = parse(lexopt::Parser::from_args(args.iter().copied())) {
                panic!("{spelling} is declared, and {args:?} does not parse: {stop:?}");
            }
        }
    }
}

/// The `--long` and `-s` flags in `text` (a `--help`, a docs page): words
/// of letters, digits and dashes that begin with `--` and a letter, or are
/// one dash and one letter. What follows ` -- ` on a line is a program's
/// own arguments (every's PROGRAM), not a flag. The suggestions read the
/// help with it; the tests read the help and the docs pages with it.
pub fn flags_in(text: &str) -> std::collections::BTreeSet<String> {
    text.lines()
        .flat_map(|line| {
            line.split(" -- ")
                .next()
                .unwrap_or_default()
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        })
        .filter(|word| {
            let b = word.as_bytes();
            (b.len() > 2 && word.starts_with("--") && b[2].is_ascii_alphabetic())
                || (b.len() == 2 && b[0] == b'-' && b[1].is_ascii_alphabetic())
        })
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &[Flag] = &[Flag::new("every", &["1s"]).short('e'), Flag::switch("once")];

    #[test]
    fn only_declared_flags_pass() {
        const LISTS: &[&[Flag]] = &[OWN, STANDARD];
        const PARSED: [Spelling; count(LISTS)] = spelled(LISTS);
        assert_eq!(PARSED[0], ("every", Some('e')));
        assert!(has(&PARSED, "help") && !has(&PARSED, "ever") && !has(&PARSED, ""));
        let lists = PARSED;
        assert!(declared(&lexopt::Arg::Long("once"), &lists).is_ok());
        assert!(declared(&lexopt::Arg::Short('e'), &lists).is_ok());
        assert!(declared(&lexopt::Arg::Short('V'), &lists).is_ok());
        assert!(declared(&lexopt::Arg::Value("x".into()), &lists).is_ok());
        let refused = |arg| match declared(&arg, &lists) {
            Err(Stop::Usage(text)) => text,
            other => panic!("{other:?}"),
        };
        assert_eq!(refused(lexopt::Arg::Long("onc")), "invalid option '--onc'");
        assert_eq!(refused(lexopt::Arg::Short('x')), "invalid option '-x'");
    }

    #[test]
    fn spellings_are_long_and_short() {
        let all: Vec<String> = spellings(&[OWN]).into_iter().collect();
        assert_eq!(all, ["--every", "--once", "-e"]);
    }
}
