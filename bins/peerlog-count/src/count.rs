//! Counting lines and matching lines in a byte stream that arrives in
//! chunks. A line counts when its newline arrives; a pattern counts once per
//! line, also when it straddles two chunks. Memory stays bounded whatever
//! the line length: per pattern, only the last len-1 bytes of the open line
//! are kept, and for `--by` its first 64 KiB. Several files may be read at
//! once (rotated generations), each with its own open line: the totals are
//! shared, the `OpenLine` is a file's.

use crate::by_field::{ByField, LINE_PREFIX};
use memchr::memmem::Finder;

pub struct Pattern {
    finder: Finder<'static>,
    /// Lines that contained the pattern.
    pub lines: u64,
}

pub struct Counter {
    pub lines: u64,
    pub bytes: u64,
    pub patterns: Vec<Pattern>,
    pub by: Vec<ByField>,
    /// `--by-every-line`: `--by` counts every line, not only matching ones.
    by_every_line: bool,
}

/// One stream's line still open (no newline yet): per pattern, and its
/// first bytes for `--by`.
#[derive(Default, Clone)]
pub struct OpenLine(Vec<PatternState>, Vec<u8>);

#[derive(Default, Clone)]
struct PatternState {
    /// The open line already contains the pattern.
    matched: bool,
    /// The open line's last bytes, at most len-1, for a match across chunks.
    tail: Vec<u8>,
}

impl Counter {
    pub fn new(patterns: &[(String, String)]) -> Counter {
        let patterns = patterns
            .iter()
            .map(|(_, text)| Pattern {
                finder: Finder::new(text.as_bytes()).into_owned(),
                lines: 0,
            })
            .collect();
        Counter {
            lines: 0,
            bytes: 0,
            patterns,
            by: Vec::new(),
            by_every_line: false,
        }
    }

    /// `--by` fields, counting every line (`every_line`) or only those a
    /// `--match` matches, when there are any.
    pub fn with_by(mut self, by: Vec<ByField>, every_line: bool) -> Counter {
        self.by = by;
        self.by_every_line = every_line;
        self
    }

    /// What `feed` changes, without `--by` (whose tables are not copied):
    /// to undo the counting of a chunk that turned out not to be the file's.
    pub fn totals(&self) -> Option<(u64, u64, Vec<u64>)> {
        let lines = self.patterns.iter().map(|p| p.lines).collect();
        self.by
            .is_empty()
            .then_some((self.lines, self.bytes, lines))
    }

    pub fn restore(&mut self, (lines, bytes, matched): (u64, u64, Vec<u64>)) {
        self.lines = lines;
        self.bytes = bytes;
        for (pattern, lines) in self.patterns.iter_mut().zip(matched) {
            pattern.lines = lines;
        }
    }

    /// Counts `chunk`, the next bytes of the stream whose open line is `open`.
    pub fn feed(&mut self, open: &mut OpenLine, chunk: &[u8]) {
        self.bytes += chunk.len() as u64;
        // With --by, the lines are counted as they are walked.
        if self.by.is_empty() {
            self.lines += count_newlines(chunk);
        }
        open.0.resize(self.patterns.len(), PatternState::default());
        for (pattern, state) in self.patterns.iter_mut().zip(&mut open.0) {
            pattern.feed(state, chunk);
        }
        if !self.by.is_empty() {
            self.feed_by(&mut open.1, chunk);
        }
    }

    /// Whole lines to the `--by` counts: straight from the chunk, or
    /// assembled from the open line's first bytes.
    fn feed_by(&mut self, open: &mut Vec<u8>, chunk: &[u8]) {
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', chunk) {
            self.lines += 1;
            let piece = &chunk[start..end];
            if open.is_empty() {
                self.count_by(&piece[..piece.len().min(LINE_PREFIX)]);
            } else {
                let room = LINE_PREFIX.saturating_sub(open.len());
                open.extend_from_slice(&piece[..piece.len().min(room)]);
                let line = std::mem::take(open);
                self.count_by(&line);
                *open = line;
                open.clear();
            }
            start = end + 1;
        }
        let rest = &chunk[start..];
        let room = LINE_PREFIX.saturating_sub(open.len());
        open.extend_from_slice(&rest[..rest.len().min(room)]);
    }

    /// One line: counted by each field, if it matches a `--match` (when
    /// there are any, unless `--by-every-line`).
    fn count_by(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !self.by_every_line
            && !self.patterns.is_empty()
            && !self.patterns.iter().any(|p| p.finder.find(line).is_some())
        {
            return;
        }
        for by in &mut self.by {
            by.count(line);
        }
    }
}

impl Pattern {
    fn needle_len(&self) -> usize {
        self.finder.needle().len()
    }

    fn feed(&mut self, state: &mut PatternState, chunk: &[u8]) {
        let first_newline = memchr::memchr(b'\n', chunk);
        // A match that starts in the open line's tail and ends in this chunk.
        if !state.matched && !state.tail.is_empty() {
            let line_part = &chunk[..first_newline.unwrap_or(chunk.len())];
            let take = line_part.len().min(self.needle_len() - 1);
            let mut window = Vec::with_capacity(state.tail.len() + take);
            window.extend_from_slice(&state.tail);
            window.extend_from_slice(&line_part[..take]);
            if self.finder.find(&window).is_some() {
                state.matched = true;
            }
        }
        let mut pos = 0;
        if state.matched {
            match first_newline {
                Some(end) => {
                    self.lines += 1;
                    state.matched = false;
                    pos = end + 1;
                }
                None => return, // the open line goes on and is already counted in
            }
        }
        // Every match from here: count its line once and skip to the next line.
        while let Some(found) = self.finder.find(&chunk[pos..]) {
            let at = pos + found;
            match memchr::memchr(b'\n', &chunk[at..]) {
                Some(end) => {
                    self.lines += 1;
                    pos = at + end + 1;
                }
                None => {
                    state.matched = true;
                    state.tail.clear();
                    return;
                }
            }
        }
        self.keep_tail(state, chunk);
    }

    /// Keeps the open line's last len-1 bytes for the next chunk.
    fn keep_tail(&self, state: &mut PatternState, chunk: &[u8]) {
        let keep = self.needle_len().saturating_sub(1);
        let open = match memchr::memrchr(b'\n', chunk) {
            Some(end) => {
                state.tail.clear();
                &chunk[end + 1..]
            }
            None => chunk,
        };
        state
            .tail
            .extend_from_slice(&open[open.len().saturating_sub(keep)..]);
        let excess = state.tail.len().saturating_sub(keep);
        state.tail.drain(..excess);
    }
}

/// Newlines in `bytes` (see `newlines`: the hot loop of plain counting).
pub fn count_newlines(bytes: &[u8]) -> u64 {
    crate::newlines::count(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(text: &[u8], chunk: usize, patterns: &[(&str, &str)]) -> (u64, Vec<u64>) {
        let patterns: Vec<(String, String)> = patterns
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        let mut counter = Counter::new(&patterns);
        let mut open = OpenLine::default();
        for piece in text.chunks(chunk) {
            counter.feed(&mut open, piece);
        }
        (
            counter.lines,
            counter.patterns.iter().map(|p| p.lines).collect(),
        )
    }

    /// What a reader of whole lines would count.
    fn expected(text: &[u8], needles: &[&str]) -> (u64, Vec<u64>) {
        let complete: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
        let complete = &complete[..complete.len() - 1]; // the part after the last newline is open
        let per = needles
            .iter()
            .map(|n| {
                complete
                    .iter()
                    .filter(|l| memchr::memmem::find(l, n.as_bytes()).is_some())
                    .count() as u64
            })
            .collect();
        (complete.len() as u64, per)
    }

    #[test]
    fn newline_counting_matches_a_plain_count() {
        let mut text = Vec::new();
        for i in 0..100_000u32 {
            text.extend(std::iter::repeat_n(b'x', (i % 97) as usize));
            text.push(b'\n');
        }
        for len in [0, 1, 31, 32, 8159, 8160, 8161, text.len()] {
            let want = text[..len].iter().filter(|&&b| b == b'\n').count() as u64;
            assert_eq!(count_newlines(&text[..len]), want, "{len}");
        }
        assert_eq!(count_newlines(&[b'\n'; 100_000]), 100_000);
    }

    #[test]
    fn a_pattern_counts_once_per_line_at_every_chunk_size() {
        let text = b"error error\nok\nan err\nor here\nerrorerror error\nno\nerr\npartial error";
        let needles = ["error", "err", "or", "e"];
        let patterns: Vec<(&str, &str)> = needles.iter().map(|n| (*n, *n)).collect();
        let want = expected(text, &needles);
        for chunk in 1..=text.len() {
            assert_eq!(counts(text, chunk, &patterns), want, "chunk size {chunk}");
        }
    }

    #[test]
    fn random_text_at_random_chunk_sizes() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..50 {
            let text: Vec<u8> = (0..5000).map(|_| b"ab\n"[(next() % 3) as usize]).collect();
            let needles = ["ab", "aab", "bab", "abba"];
            let patterns: Vec<(&str, &str)> = needles.iter().map(|n| (*n, *n)).collect();
            let chunk = 1 + (next() % 64) as usize;
            assert_eq!(
                counts(&text, chunk, &patterns),
                expected(&text, &needles),
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn two_streams_read_in_turn_keep_their_own_open_lines() {
        let mut counter = Counter::new(&[("e".into(), "ERROR".into())]);
        let (mut a, mut b) = (OpenLine::default(), OpenLine::default());
        counter.feed(&mut a, b"x ERR");
        counter.feed(&mut b, b"OR\ny ER");
        counter.feed(&mut a, b"OR\n");
        counter.feed(&mut b, b"ROR\n");
        // "ERR" + "OR" joined across streams would be a false match.
        assert_eq!((counter.lines, counter.patterns[0].lines), (3, 2));
    }

    #[test]
    fn by_field_counts_whole_lines_at_every_chunk_size() {
        use crate::by_field::Field;
        let text = b"a 1\nb 2\r\nc 1\nd\n e 3 x\nopen 9";
        for chunk in 1..=text.len() {
            let mut counter =
                Counter::new(&[]).with_by(vec![ByField::new("w", Field::Word(2), 10)], false);
            let mut open = OpenLine::default();
            for piece in text.chunks(chunk) {
                counter.feed(&mut open, piece);
            }
            let want: Vec<(String, u64)> = [("", 1), ("1", 2), ("2", 1), ("3", 1)]
                .map(|(v, n)| (v.to_string(), n))
                .to_vec();
            assert_eq!(counter.by[0].counts(), want, "chunk size {chunk}");
            assert_eq!(counter.lines, 5, "chunk size {chunk}");
        }
    }

    #[test]
    fn a_by_field_in_a_huge_line_is_looked_for_in_its_first_64_kib() {
        use crate::by_field::Field;
        let mut counter =
            Counter::new(&[]).with_by(vec![ByField::new("w", Field::Word(2), 10)], false);
        let mut open = OpenLine::default();
        counter.feed(&mut open, b"x found ");
        for _ in 0..50 {
            counter.feed(&mut open, &[b'y'; 1 << 20]);
        }
        assert!(open.1.len() <= LINE_PREFIX);
        counter.feed(&mut open, b" tail\n");
        assert_eq!(counter.by[0].counts(), [("found".to_string(), 1)]);
    }

    #[test]
    fn a_long_line_without_newline_keeps_memory_bounded() {
        let mut counter = Counter::new(&[("x".into(), "needle".into())]);
        let mut open = OpenLine::default();
        let chunk = vec![b'a'; 1 << 20];
        for _ in 0..100 {
            counter.feed(&mut open, &chunk);
        }
        assert!(open.0[0].tail.len() <= 5);
        counter.feed(&mut open, b"needle\n");
        assert_eq!((counter.lines, counter.patterns[0].lines), (1, 1));
    }
}
