//! `matches()`: RE2's syntax, run by a Pike VM (Thompson's construction
//! simulated breadth-first), so time is linear in the text times the
//! program, as RE2 promises, whatever the pattern. No backtracking, no
//! backreferences (RE2 has none either).
//!
//! Supported: literals and escapes, `.`, classes (`[a-z]`, `[^...]`,
//! `[[:alpha:]]`, `\d \w \s` and their negations), `^ $ \A \z \b \B`,
//! groups (plain, `(?:...)`, named), `|`, `* + ? {n} {n,} {n,m}` (greedy or
//! lazy: a match is a match), and the flags `i`, `m`, `s`, `U`. Refused,
//! with its name: Unicode classes (`\p{Greek}`), `\Q...\E`, `\C`. Matching
//! is by Unicode scalar values, as RE2's UTF-8 mode; `(?i)` folds ASCII
//! letters only (RE2 folds all of Unicode's; see check.rs's `resolve` for
//! what the two size changes measured).

/// RE2's limit on a counted repetition.
const MAX_REPEAT: u32 = 1000;
/// The most instructions a pattern may compile to.
pub const MAX_PROGRAM: usize = 10_000;

#[derive(Debug, Clone)]
enum Inst {
    Char(char),
    /// Any character; `false`: but a newline.
    Any(bool),
    Class(Vec<(char, char)>, bool),
    Split(usize, usize),
    Jmp(usize),
    Assert(Assertion),
    Match,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Assertion {
    TextStart,
    TextEnd,
    LineStart,
    LineEnd,
    WordBoundary,
    NotWordBoundary,
}

#[derive(Debug, Clone)]
enum Ast {
    Empty,
    Char(char),
    Any(bool),
    Class(Vec<(char, char)>, bool),
    Assert(Assertion),
    Concat(Vec<Ast>),
    Alt(Vec<Ast>),
    Repeat(Box<Ast>, u32, Option<u32>),
}

/// Inclusive ranges of characters: a class.
type Ranges = Vec<(char, char)>;

#[derive(Debug, Clone)]
pub struct Regex {
    program: Vec<Inst>,
}

#[derive(Clone, Copy, Default)]
struct Flags {
    fold: bool,
    multi_line: bool,
    dot_newline: bool,
}

const DIGIT: &[(char, char)] = &[('0', '9')];
const WORD: &[(char, char)] = &[('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')];
const SPACE: &[(char, char)] = &[('\t', '\n'), ('\x0c', '\r'), (' ', ' ')];

fn posix(name: &str) -> Option<&'static [(char, char)]> {
    Some(match name {
        "alnum" => &[('0', '9'), ('A', 'Z'), ('a', 'z')],
        "alpha" => &[('A', 'Z'), ('a', 'z')],
        "ascii" => &[('\0', '\x7f')],
        "blank" => &[('\t', '\t'), (' ', ' ')],
        "cntrl" => &[('\0', '\x1f'), ('\x7f', '\x7f')],
        "digit" => DIGIT,
        "graph" => &[('!', '~')],
        "lower" => &[('a', 'z')],
        "print" => &[(' ', '~')],
        "punct" => &[('!', '/'), (':', '@'), ('[', '`'), ('{', '~')],
        "space" => &[('\t', '\r'), (' ', ' ')],
        "upper" => &[('A', 'Z')],
        "word" => WORD,
        "xdigit" => &[('0', '9'), ('A', 'F'), ('a', 'f')],
        _ => return None,
    })
}

struct Parser<'p> {
    chars: Vec<char>,
    at: usize,
    flags: Flags,
    pattern: &'p str,
}

impl Regex {
    pub fn new(pattern: &str) -> Result<Regex, String> {
        let mut parser = Parser {
            chars: pattern.chars().collect(),
            at: 0,
            flags: Flags::default(),
            pattern,
        };
        let ast = parser.alternation(0)?;
        if parser.at < parser.chars.len() {
            return Err(format!("unmatched ')' in {:?}", parser.pattern));
        }
        let mut program = Vec::new();
        compile(&ast, &mut program)?;
        program.push(Inst::Match);
        Ok(Regex { program })
    }

    /// The work one match over `text` may take, in instruction steps.
    pub fn work(&self, text: &str) -> u64 {
        (text.len() as u64 + 1).saturating_mul(self.program.len() as u64)
    }

    /// Whether the pattern matches anywhere in `text` (RE2's partial match,
    /// as CEL's `matches` means).
    pub fn is_match(&self, text: &str) -> bool {
        let n = self.program.len();
        let mut current = Threads::new(n);
        let mut next = Threads::new(n);
        let mut previous: Option<char> = None;
        let mut chars = text.chars().peekable();
        loop {
            let here = chars.peek().copied();
            let at = Context { previous, here };
            // Unanchored: a new thread starts at every position.
            add(&self.program, &mut current, 0, at);
            // Where a thread that consumes `here` goes on.
            let after = Context {
                previous: here,
                here: chars.clone().nth(1),
            };
            for i in 0..current.len {
                let pc = current.dense[i];
                let consumes = match &self.program[pc] {
                    Inst::Match => return true,
                    Inst::Char(c) => Some(*c) == here,
                    Inst::Any(newline) => here.is_some_and(|c| *newline || c != '\n'),
                    Inst::Class(ranges, negated) => {
                        here.is_some_and(|c| in_ranges(ranges, c) != *negated)
                    }
                    _ => false,
                };
                if consumes {
                    add(&self.program, &mut next, pc + 1, after);
                }
            }
            let Some(c) = chars.next() else {
                return false;
            };
            previous = Some(c);
            std::mem::swap(&mut current, &mut next);
            next.clear();
        }
    }
}

#[derive(Clone, Copy)]
struct Context {
    previous: Option<char>,
    here: Option<char>,
}

fn is_word(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Context {
    fn holds(self, assertion: Assertion) -> bool {
        match assertion {
            Assertion::TextStart => self.previous.is_none(),
            Assertion::TextEnd => self.here.is_none(),
            Assertion::LineStart => matches!(self.previous, None | Some('\n')),
            Assertion::LineEnd => matches!(self.here, None | Some('\n')),
            Assertion::WordBoundary => is_word(self.previous) != is_word(self.here),
            Assertion::NotWordBoundary => is_word(self.previous) == is_word(self.here),
        }
    }
}

/// A set of program counters, in insertion order (a sparse set).
struct Threads {
    dense: Vec<usize>,
    sparse: Vec<usize>,
    len: usize,
}

impl Threads {
    fn new(n: usize) -> Threads {
        Threads {
            dense: vec![0; n],
            sparse: vec![0; n],
            len: 0,
        }
    }

    fn contains(&self, pc: usize) -> bool {
        let i = self.sparse[pc];
        i < self.len && self.dense[i] == pc
    }

    fn insert(&mut self, pc: usize) {
        self.sparse[pc] = self.len;
        self.dense[self.len] = pc;
        self.len += 1;
    }

    fn clear(&mut self) {
        self.len = 0;
    }
}

/// Adds `pc` and what its jumps, splits and true assertions lead to, with
/// an explicit stack: a pattern's depth is the user's, not the stack's.
fn add(program: &[Inst], threads: &mut Threads, pc: usize, at: Context) {
    let mut stack = vec![pc];
    while let Some(pc) = stack.pop() {
        if threads.contains(pc) {
            continue;
        }
        threads.insert(pc);
        match &program[pc] {
            Inst::Jmp(to) => stack.push(*to),
            Inst::Split(first, second) => {
                stack.push(*second);
                stack.push(*first);
            }
            Inst::Assert(assertion) if at.holds(*assertion) => stack.push(pc + 1),
            _ => {}
        }
    }
}

fn in_ranges(ranges: &[(char, char)], c: char) -> bool {
    ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c))
}

fn compile(ast: &Ast, program: &mut Vec<Inst>) -> Result<(), String> {
    if program.len() > MAX_PROGRAM {
        return Err(format!(
            "the pattern compiles to more than {MAX_PROGRAM} instructions"
        ));
    }
    match ast {
        Ast::Empty => {}
        Ast::Char(c) => program.push(Inst::Char(*c)),
        Ast::Any(newline) => program.push(Inst::Any(*newline)),
        Ast::Class(ranges, negated) => program.push(Inst::Class(ranges.clone(), *negated)),
        Ast::Assert(a) => program.push(Inst::Assert(*a)),
        Ast::Concat(items) => {
            for item in items {
                compile(item, program)?;
            }
        }
        Ast::Alt(items) => {
            // split L1, next; L1: a; jmp end; next: split L2, ...
            let mut jumps = Vec::new();
            for (i, item) in items.iter().enumerate() {
                if i + 1 < items.len() {
                    let split = program.len();
                    program.push(Inst::Split(split + 1, 0));
                    compile(item, program)?;
                    jumps.push(program.len());
                    program.push(Inst::Jmp(0));
                    let next = program.len();
                    program[split] = Inst::Split(split + 1, next);
                } else {
                    compile(item, program)?;
                }
            }
            let end = program.len();
            for jump in jumps {
                program[jump] = Inst::Jmp(end);
            }
        }
        Ast::Repeat(item, min, max) => {
            for _ in 0..*min {
                compile(item, program)?;
            }
            match max {
                None => {
                    // L: split body, end; body; jmp L
                    let split = program.len();
                    program.push(Inst::Split(split + 1, 0));
                    compile(item, program)?;
                    program.push(Inst::Jmp(split));
                    let end = program.len();
                    program[split] = Inst::Split(split + 1, end);
                }
                Some(max) => {
                    let mut splits = Vec::new();
                    for _ in *min..*max {
                        splits.push(program.len());
                        program.push(Inst::Split(0, 0));
                        compile(item, program)?;
                    }
                    let end = program.len();
                    for split in splits {
                        program[split] = Inst::Split(split + 1, end);
                    }
                }
            }
        }
    }
    if program.len() > MAX_PROGRAM {
        return Err(format!(
            "the pattern compiles to more than {MAX_PROGRAM} instructions"
        ));
    }
    Ok(())
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        let found = self.peek() == Some(c);
        if found {
            self.at += 1;
        }
        found
    }

    fn refuse(&self, what: &str) -> String {
        // The pattern may be an answer's: quoted short.
        format!("{what} in {}", crate::value::shown(self.pattern))
    }

    fn alternation(&mut self, depth: usize) -> Result<Ast, String> {
        if depth > 100 {
            return Err(self.refuse("groups nested deeper than 100"));
        }
        let mut items = vec![self.concatenation(depth)?];
        while self.eat('|') {
            items.push(self.concatenation(depth)?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Ast::Empty)
        } else {
            Ast::Alt(items)
        })
    }

    fn concatenation(&mut self, depth: usize) -> Result<Ast, String> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let Some(atom) = self.atom(depth)? else {
                continue;
            };
            let atom = self.repetition(atom)?;
            items.push(atom);
        }
        Ok(Ast::Concat(items))
    }

    fn repetition(&mut self, mut atom: Ast) -> Result<Ast, String> {
        let mut repeated = false;
        loop {
            let (min, max) = match self.peek() {
                Some('*') => (0, None),
                Some('+') => (1, None),
                Some('?') => (0, Some(1)),
                Some('{') => match self.counted()? {
                    Some(bounds) => bounds,
                    None => return Ok(atom),
                },
                _ => return Ok(atom),
            };
            // Over the operator (or the counted form's closing `}`).
            self.at += 1;
            // RE2 refuses `a**`: a repetition of a repetition.
            if repeated {
                return Err(self.refuse("a repetition operator after another"));
            }
            // Lazy or greedy, a match is a match.
            self.eat('?');
            atom = Ast::Repeat(Box::new(atom), min, max);
            repeated = true;
        }
    }

    /// `{n}`, `{n,}` or `{n,m}` at `{`: its bounds, the position left at the
    /// closing `}`. None when it is no repetition (RE2 takes `{` as a literal).
    fn counted(&mut self) -> Result<Option<(u32, Option<u32>)>, String> {
        let rest: String = self.chars[self.at + 1..]
            .iter()
            .take_while(|c| **c != '}')
            .collect();
        if self.at + 1 + rest.chars().count() >= self.chars.len() {
            return Ok(None);
        }
        let number = |s: &str| -> Option<u32> {
            (!s.is_empty() && s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse().ok())?
        };
        let (min, max) = match rest.split_once(',') {
            None => match number(&rest) {
                Some(n) => (n, Some(n)),
                None => return Ok(None),
            },
            Some((lo, "")) => match number(lo) {
                Some(n) => (n, None),
                None => return Ok(None),
            },
            Some((lo, hi)) => match (number(lo), number(hi)) {
                (Some(a), Some(b)) => (a, Some(b)),
                _ => return Ok(None),
            },
        };
        if min > MAX_REPEAT || max.is_some_and(|m| m > MAX_REPEAT) {
            return Err(self.refuse(&format!("a repetition count above {MAX_REPEAT}")));
        }
        if max.is_some_and(|m| m < min) {
            return Err(self.refuse("a repetition {n,m} with m < n"));
        }
        // Left at the closing `}`, which the caller steps over.
        self.at += rest.chars().count() + 1;
        Ok(Some((min, max)))
    }

    fn literal(&self, c: char) -> Ast {
        if self.flags.fold {
            let (lower, upper) = (c.to_ascii_lowercase(), c.to_ascii_uppercase());
            Ast::Class(vec![(lower, lower), (upper, upper)], false)
        } else {
            Ast::Char(c)
        }
    }

    /// One atom; None for a flag group that only sets flags.
    fn atom(&mut self, depth: usize) -> Result<Option<Ast>, String> {
        let Some(c) = self.peek() else {
            return Ok(Some(Ast::Empty));
        };
        self.at += 1;
        Ok(Some(match c {
            '.' => Ast::Any(self.flags.dot_newline),
            '^' => Ast::Assert(if self.flags.multi_line {
                Assertion::LineStart
            } else {
                Assertion::TextStart
            }),
            '$' => Ast::Assert(if self.flags.multi_line {
                Assertion::LineEnd
            } else {
                Assertion::TextEnd
            }),
            '*' | '+' | '?' => return Err(self.refuse(&format!("a '{c}' with nothing to repeat"))),
            '[' => self.class()?,
            '\\' => self.escape(false)?.0,
            '(' => {
                let saved = self.flags;
                if self.eat('?') {
                    if self.eat('P') || self.peek() == Some('<') {
                        if !self.eat('<') {
                            return Err(self.refuse("an unknown group"));
                        }
                        while let Some(c) = self.peek() {
                            self.at += 1;
                            if c == '>' {
                                break;
                            }
                            if !(c.is_ascii_alphanumeric() || c == '_') {
                                return Err(self.refuse("an invalid group name"));
                            }
                        }
                    } else {
                        let mut negate = false;
                        loop {
                            let Some(flag) = self.peek() else {
                                return Err(self.refuse("an unclosed group"));
                            };
                            self.at += 1;
                            match flag {
                                'i' => self.flags.fold = !negate,
                                'm' => self.flags.multi_line = !negate,
                                's' => self.flags.dot_newline = !negate,
                                'U' => {}
                                '-' if !negate => negate = true,
                                // (?i) sets flags for the rest of the group.
                                ')' => return Ok(None),
                                ':' => break,
                                _ => {
                                    return Err(
                                        self.refuse(&format!("the flag or group '(?{flag}'"))
                                    )
                                }
                            }
                        }
                    }
                }
                let inner = self.alternation(depth + 1)?;
                if !self.eat(')') {
                    return Err(self.refuse("a missing ')'"));
                }
                self.flags = saved;
                inner
            }
            c => self.literal(c),
        }))
    }

    /// An escape after its backslash: the atom, and the ranges it stands
    /// for inside a class (None for an assertion).
    fn escape(&mut self, in_class: bool) -> Result<(Ast, Option<Ranges>), String> {
        let Some(c) = self.peek() else {
            return Err(self.refuse("a trailing backslash"));
        };
        self.at += 1;
        let class = |ranges: &[(char, char)], negated: bool| {
            let ast = Ast::Class(ranges.to_vec(), negated);
            let inside = if negated {
                negate(ranges)
            } else {
                ranges.to_vec()
            };
            Ok((ast, Some(inside)))
        };
        match c {
            'd' => class(DIGIT, false),
            'D' => class(DIGIT, true),
            'w' => class(WORD, false),
            'W' => class(WORD, true),
            's' => class(SPACE, false),
            'S' => class(SPACE, true),
            'A' | 'z' | 'b' | 'B' if !in_class => Ok((
                Ast::Assert(match c {
                    'A' => Assertion::TextStart,
                    'z' => Assertion::TextEnd,
                    'b' => Assertion::WordBoundary,
                    _ => Assertion::NotWordBoundary,
                }),
                None,
            )),
            'p' | 'P' => Err(self.refuse("Unicode classes (\\p) are not supported")),
            'Q' | 'E' | 'C' => Err(self.refuse(&format!("\\{c} is not supported"))),
            'n' => Ok(self.single('\n')),
            't' => Ok(self.single('\t')),
            'r' => Ok(self.single('\r')),
            'f' => Ok(self.single('\x0c')),
            'v' => Ok(self.single('\x0b')),
            'a' => Ok(self.single('\x07')),
            'x' => {
                let digits: String = if self.eat('{') {
                    let d: String = self.chars[self.at..]
                        .iter()
                        .take_while(|c| **c != '}')
                        .collect();
                    self.at += d.chars().count();
                    if !self.eat('}') {
                        return Err(self.refuse("an unclosed \\x{"));
                    }
                    d
                } else {
                    let d: String = self.chars[self.at..].iter().take(2).collect();
                    self.at += d.chars().count();
                    d
                };
                let ch = (!digits.is_empty()
                    && digits.len() <= 8
                    && digits.chars().all(|c| c.is_ascii_hexdigit()))
                .then(|| {
                    u32::from_str_radix(&digits, 16)
                        .ok()
                        .and_then(char::from_u32)
                })
                .flatten()
                .ok_or_else(|| self.refuse("an invalid \\x escape"))?;
                Ok(self.single(ch))
            }
            c if c.is_ascii_punctuation() => Ok(self.single(c)),
            c => Err(self.refuse(&format!("the escape \\{c}"))),
        }
    }

    fn single(&self, c: char) -> (Ast, Option<Ranges>) {
        (self.literal(c), Some(vec![(c, c)]))
    }

    /// A class after its `[`.
    fn class(&mut self) -> Result<Ast, String> {
        let negated = self.eat('^');
        let mut ranges: Vec<(char, char)> = Vec::new();
        let mut first = true;
        loop {
            let Some(c) = self.peek() else {
                return Err(self.refuse("a missing ']'"));
            };
            if c == ']' && !first {
                self.at += 1;
                break;
            }
            first = false;
            self.at += 1;
            let low = match c {
                '[' if self.peek() == Some(':') => {
                    let rest: String = self.chars[self.at..].iter().collect();
                    let Some(end) = rest.find(":]") else {
                        return Err(self.refuse("an unclosed [:class:]"));
                    };
                    let name = &rest[1..end];
                    let (name, negate_it) = match name.strip_prefix('^') {
                        Some(n) => (n, true),
                        None => (name, false),
                    };
                    let set =
                        posix(name).ok_or_else(|| self.refuse(&format!("the class [:{name}:]")))?;
                    self.at += rest[..end + 2].chars().count();
                    ranges.extend(if negate_it { negate(set) } else { set.to_vec() });
                    continue;
                }
                '\\' => match self.escape(true)?.1 {
                    Some(set) if set.len() == 1 && set[0].0 == set[0].1 => set[0].0,
                    Some(set) => {
                        ranges.extend(set);
                        continue;
                    }
                    None => return Err(self.refuse("an assertion inside a class")),
                },
                c => c,
            };
            let high = if self.peek() == Some('-')
                && self.chars.get(self.at + 1).is_some_and(|c| *c != ']')
            {
                self.at += 1;
                let c = self.peek().ok_or_else(|| self.refuse("a missing ']'"))?;
                self.at += 1;
                if c == '\\' {
                    match self.escape(true)?.1 {
                        Some(set) if set.len() == 1 && set[0].0 == set[0].1 => set[0].0,
                        _ => return Err(self.refuse("a class as a range's end")),
                    }
                } else {
                    c
                }
            } else {
                low
            };
            if high < low {
                return Err(self.refuse(&format!("the range {low}-{high}, which is backwards")));
            }
            ranges.push((low, high));
        }
        if self.flags.fold {
            // The other case of the ASCII letters each range holds.
            let mut folded = ranges.clone();
            for (lo, hi) in &ranges {
                for (from, to) in [('a', 'A'), ('A', 'a')] {
                    let (start, end) = ((*lo).max(from), (*hi).min((from as u8 + 25) as char));
                    if start <= end {
                        let shift = |c: char| (c as u8 - from as u8 + to as u8) as char;
                        folded.push((shift(start), shift(end)));
                    }
                }
            }
            ranges = folded;
        }
        Ok(Ast::Class(ranges, negated))
    }
}

/// The complement of sorted, disjoint ranges.
fn negate(ranges: &[(char, char)]) -> Vec<(char, char)> {
    let mut out = Vec::new();
    let mut next: u32 = 0;
    for (lo, hi) in ranges {
        if (*lo as u32) > next {
            if let (Some(a), Some(b)) = (char::from_u32(next), char::from_u32(*lo as u32 - 1)) {
                out.push((a, b));
            }
        }
        next = *hi as u32 + 1;
    }
    if let Some(a) = char::from_u32(next) {
        out.push((a, char::MAX));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::Regex;

    fn matches(pattern: &str, text: &str) -> bool {
        Regex::new(pattern)
            .unwrap_or_else(|e| panic!("{e}"))
            .is_match(text)
    }

    #[test]
    fn partial_matches_as_re2() {
        assert!(matches("b", "abc"));
        assert!(matches("^a.c$", "abc"));
        assert!(!matches("^b", "abc"));
        assert!(matches("^2\\.", "2.1"));
        assert!(matches("a{2,3}", "caaab"));
        assert!(!matches("^a{2,3}$", "aaaa"));
        assert!(matches("(?i)HELLO", "say hello"));
        assert!(matches("^[[:digit:]]+$", "123"));
        assert!(matches("\\bword\\b", "a word here"));
        assert!(!matches("\\bword\\b", "swordfish"));
        assert!(matches("^(a|b)*c$", "ababc"));
        assert!(matches("^(?:x*)*$", "xxx"));
        assert!(!matches(".", "\n"));
        assert!(matches("(?s).", "\n"));
        assert!(matches("[^a-c]", "abcd"));
        assert!(matches("é+", "café"));
        assert!(matches("a{,2}", "a{,2}"));
    }

    #[test]
    fn refuses_what_re2_refuses_or_it_lacks() {
        for bad in [
            "(",
            ")",
            "a**",
            "[a",
            "a{1001}",
            "\\p{Greek}",
            "\\1",
            "*a",
            "[z-a]",
        ] {
            assert!(Regex::new(bad).is_err(), "{bad}");
        }
    }
}
