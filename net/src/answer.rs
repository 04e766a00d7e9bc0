//! Reading an HTTP/1.1 answer (RFC 9112) from any byte source: the head,
//! interim 1xx answers skipped, the body framed by Transfer-Encoding or
//! Content-Length, every length, count and wait bounded. The client runs it
//! over a socket with a deadline; the tests run it over bytes in memory.
//!
//! Every number in an answer comes from a peer that may be hostile, so no
//! sum of them is ever formed: a length is compared against the room left
//! (`size > cap - len`), never `len + size > cap`.

use crate::error::*;
use std::time::Instant;

/// One read.
const READ_SIZE: usize = 16 * 1024;

/// Where the bytes of an answer come from.
pub trait Source {
    /// Some bytes into `buf`; Ok(0) at the end of the stream. Waits are the
    /// source's to bound (the client's has the request's deadline).
    fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, FetchError>;
}

/// Any `Read` as a source, for tests and for bytes already in memory.
pub struct FromRead<R>(pub R);

impl<R: std::io::Read> Source for FromRead<R> {
    fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, FetchError> {
        loop {
            return match self.0.read(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => Err(FetchError::from(e)),
                Ok(n) => Ok(n),
            };
        }
    }
}

/// How the body is delimited (RFC 9112 6.3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Framing {
    /// HEAD, 204, 304: no body whatever the headers say.
    None,
    Chunked,
    Length(u64),
    /// Until the connection closes.
    Close,
}

/// The final answer's head.
#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    pub status: u16,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// The Content-Length header; None when absent or when chunked wins.
    pub content_length: Option<u64>,
    pub framing: Framing,
    pub location: Option<String>,
    /// Every header, its name in lower case and its value as text (bytes
    /// that are not UTF-8 as U+FFFD), for CEL's `headers`: at most
    /// MAX_HEADERS of them within MAX_HEAD bytes, as read.
    pub headers: Vec<(String, String)>,
}

/// Bytes read from a source and not yet consumed, and when the first came.
pub struct Input<S> {
    source: S,
    /// `buffer[at..end]` is read and not yet consumed; the rest is room,
    /// zeroed once when it grows rather than at every read.
    buffer: Vec<u8>,
    at: usize,
    end: usize,
    pub first_byte: Option<Instant>,
}

impl<S: Source> Input<S> {
    pub fn new(source: S) -> Input<S> {
        Input {
            source,
            buffer: Vec::new(),
            at: 0,
            end: 0,
            first_byte: None,
        }
    }

    fn unread(&self) -> &[u8] {
        &self.buffer[self.at..self.end]
    }

    /// One more read onto the unconsumed bytes; false at the end of the stream.
    fn fill(&mut self) -> Result<bool, FetchError> {
        if self.end == self.buffer.len() {
            if self.at > 0 {
                self.buffer.copy_within(self.at..self.end, 0);
                self.end -= self.at;
                self.at = 0;
            }
            if self.buffer.len() - self.end < READ_SIZE / 2 {
                self.buffer.resize(self.end + READ_SIZE, 0);
            }
        }
        let room = &mut self.buffer[self.end..];
        let n = self.source.read_some(room)?.min(room.len());
        if n > 0 {
            self.first_byte.get_or_insert_with(Instant::now);
        }
        self.end += n;
        Ok(n > 0)
    }

    /// The bytes up to the next CRLF, consumed with it; None if the stream
    /// ends first. Longer than `max`: `too_long`.
    fn line(&mut self, max: usize, too_long: AnswerError) -> Result<Option<Vec<u8>>, FetchError> {
        let mut searched = 0;
        loop {
            if let Some(i) = memchr::memmem::find(&self.unread()[searched..], b"\r\n") {
                let end = searched + i;
                if end > max {
                    return Err(too_long.into());
                }
                let line = self.unread()[..end].to_vec();
                self.at += end + 2;
                return Ok(Some(line));
            }
            searched = self.unread().len().saturating_sub(1);
            if searched > max {
                return Err(too_long.into());
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    /// Up to `n` bytes onto `into`; false if the stream ended first.
    fn take(&mut self, mut n: u64, into: &mut Vec<u8>) -> Result<bool, FetchError> {
        loop {
            let here = self
                .unread()
                .len()
                .min(usize::try_from(n).unwrap_or(usize::MAX));
            into.extend_from_slice(&self.unread()[..here]);
            self.at += here;
            n -= here as u64;
            if n == 0 {
                return Ok(true);
            }
            if !self.fill()? {
                return Ok(false);
            }
        }
    }

    /// The final answer's head, skipping interim 1xx answers.
    pub fn head(&mut self, head_request: bool) -> Result<Head, FetchError> {
        for _ in 0..=MAX_INTERIM {
            let head = self.one_head(head_request)?;
            match head.status {
                101 => return Err(AnswerError::UnaskedUpgrade.into()),
                100..=199 => continue,
                _ => return Ok(head),
            }
        }
        Err(AnswerError::TooManyInterim.into())
    }

    fn one_head(&mut self, head_request: bool) -> Result<Head, FetchError> {
        let mut searched = 0;
        let end = loop {
            if let Some(i) = memchr::memmem::find(&self.unread()[searched..], b"\r\n\r\n") {
                break searched + i + 4;
            }
            let unread = self.unread();
            if speaks_tls(unread) {
                return Err(AnswerError::SpeaksTls.into());
            }
            if unread.len() > MAX_HEAD {
                return Err(FetchError::HeadTooLarge);
            }
            searched = unread.len().saturating_sub(3);
            if !self.fill()? {
                return Err(match self.unread() {
                    [] => FetchError::Closed,
                    start if speaks_tls(start) => AnswerError::SpeaksTls.into(),
                    start if !start.starts_with(b"HTTP/") => not_http(start),
                    _ => FetchError::Closed,
                });
            }
        };
        if end > MAX_HEAD {
            return Err(FetchError::HeadTooLarge);
        }
        let bytes = &self.unread()[..end];
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(bytes) {
            Ok(httparse::Status::Complete(_)) => {}
            Ok(httparse::Status::Partial) => {
                return Err(AnswerError::MalformedHead("incomplete").into())
            }
            Err(_) if !bytes.starts_with(b"HTTP/") => return Err(not_http(bytes)),
            Err(e) => return Err(AnswerError::MalformedHead(parse_error_text(e)).into()),
        }
        let status = response.code.unwrap_or(0);
        let values = |name: &'static str| {
            response
                .headers
                .iter()
                .filter(move |h| h.name.eq_ignore_ascii_case(name))
                .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
        };
        let content_length = content_length(values("content-length"))?;
        let codings: Vec<String> = values("transfer-encoding").collect();
        let chunked = codings
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .rfind(|c| !c.is_empty())
            .is_some_and(|last| last.eq_ignore_ascii_case("chunked"));
        let no_body =
            head_request || (100..200).contains(&status) || status == 204 || status == 304;
        // RFC 9112 6.3: Transfer-Encoding overrides Content-Length; a final
        // coding other than chunked runs to the close.
        let framing = match (no_body, chunked, codings.is_empty(), content_length) {
            (true, ..) => Framing::None,
            (_, true, ..) => Framing::Chunked,
            (_, _, false, _) => Framing::Close,
            (_, _, _, Some(n)) => Framing::Length(n),
            _ => Framing::Close,
        };
        let head = Head {
            status,
            minor_version: response.version.unwrap_or(1),
            content_length: content_length.filter(|_| codings.is_empty()),
            framing,
            location: values("location").next(),
            headers: response
                .headers
                .iter()
                .map(|h| {
                    let value = String::from_utf8_lossy(h.value).trim().to_string();
                    (h.name.to_ascii_lowercase(), value)
                })
                .collect(),
        };
        self.at += end;
        Ok(head)
    }

    /// The body `head` frames, up to `cap` bytes; more is an error.
    pub fn body(&mut self, head: &Head, cap: u64) -> Result<Vec<u8>, FetchError> {
        let too_large = FetchError::BodyTooLarge {
            cap,
            status: head.status,
            chunk: None,
        };
        match head.framing {
            Framing::None => Ok(Vec::new()),
            Framing::Length(n) if n > cap => Err(too_large),
            Framing::Length(n) => {
                let mut body = Vec::with_capacity(usize::try_from(n.min(64 * 1024)).unwrap_or(0));
                match self.take(n, &mut body)? {
                    true => Ok(body),
                    false => Err(AnswerError::ShortBody {
                        got: body.len() as u64,
                        want: n,
                    }
                    .into()),
                }
            }
            Framing::Close => {
                let mut body = Vec::new();
                // One byte past the cap tells a body of exactly `cap` from a longer one.
                let room = cap.saturating_add(1);
                self.take(room, &mut body)?;
                match body.len() as u64 > cap {
                    true => Err(too_large),
                    false => Ok(body),
                }
            }
            Framing::Chunked => self.chunked(cap, head.status),
        }
    }

    /// Size lines, data and CRLFs to the last chunk, then the trailers.
    fn chunked(&mut self, cap: u64, status: u16) -> Result<Vec<u8>, FetchError> {
        let mut body = Vec::new();
        loop {
            let line = self
                .line(MAX_CHUNK_LINE, AnswerError::ChunkLineTooLong)?
                .ok_or(AnswerError::ShortChunked)?;
            let size = chunk_size(&line)?;
            // Never a sum of peer numbers: the room left, against the size.
            if size > cap - body.len() as u64 {
                return Err(FetchError::BodyTooLarge {
                    cap,
                    status,
                    // Over the cap by itself: the number is the story.
                    chunk: (size > cap).then(|| chunk_size_text(&line)),
                });
            }
            if size == 0 {
                self.trailers()?;
                return Ok(body);
            }
            if !self.take(size, &mut body)? {
                return Err(AnswerError::ShortChunked.into());
            }
            let mut crlf = Vec::with_capacity(2);
            if !self.take(2, &mut crlf)? {
                return Err(AnswerError::ShortChunked.into());
            }
            if crlf != b"\r\n" {
                return Err(AnswerError::NoCrlfAfterChunk.into());
            }
        }
    }

    /// Trailer lines to the empty one, read and dropped.
    fn trailers(&mut self) -> Result<(), FetchError> {
        let mut bytes = 0usize;
        for _ in 0..=MAX_TRAILER_LINES {
            let line = self
                .line(MAX_TRAILER_BYTES, AnswerError::TrailersTooLarge)?
                .ok_or(AnswerError::ShortChunked)?;
            if line.is_empty() {
                return Ok(());
            }
            bytes += line.len() + 2;
            if bytes > MAX_TRAILER_BYTES {
                return Err(AnswerError::TrailersTooLarge.into());
            }
        }
        Err(AnswerError::TrailersTooLarge.into())
    }
}

/// The head and body of one answer from `source`, as the client reads it.
pub fn read(
    source: impl Source,
    head_request: bool,
    cap: u64,
) -> Result<(Head, Vec<u8>), FetchError> {
    let mut input = Input::new(source);
    let head = input.head(head_request)?;
    let body = input.body(&head, cap)?;
    Ok((head, body))
}

/// A chunk-size line's size: 1 to 16 hex digits, optional whitespace, then
/// optional `;extensions` (RFC 9112 7.1), as httparse's `parse_chunk_size`
/// reads it but for an empty size, which it takes as 0.
pub fn chunk_size(line: &[u8]) -> Result<u64, AnswerError> {
    let digits_end = line.iter().position(|&b| b == b';').unwrap_or(line.len());
    let digits = line[..digits_end].trim_ascii_end();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_hexdigit) {
        return Err(AnswerError::ChunkSizeNotHex(escaped(digits, 32)));
    }
    if digits.len() > MAX_CHUNK_DIGITS {
        return Err(AnswerError::ChunkSizeTooLong(escaped(digits, 32)));
    }
    // 16 hex digits fit in 64 bits: no overflow.
    Ok(digits.iter().fold(0u64, |n, &b| {
        n << 4 | u64::from((b as char).to_digit(16).unwrap_or(0))
    }))
}

/// The size field of a chunk-size line, as the error shows it.
fn chunk_size_text(line: &[u8]) -> String {
    let end = line.iter().position(|&b| b == b';').unwrap_or(line.len());
    escaped(line[..end].trim_ascii_end(), 32)
}

/// The Content-Length values, each possibly a list (`5, 5`): one number, or
/// why not.
fn content_length(values: impl Iterator<Item = String>) -> Result<Option<u64>, AnswerError> {
    let mut found: Option<(u64, String)> = None;
    for value in values {
        for item in value.split(',').map(str::trim) {
            let parsed = match item.bytes().all(|b| b.is_ascii_digit()) && !item.is_empty() {
                true => item.parse::<u64>().ok(),
                false => None,
            };
            let n =
                parsed.ok_or_else(|| AnswerError::ContentLengthNotANumber(escape_text(item)))?;
            match &found {
                Some((first, text)) if *first != n => {
                    return Err(AnswerError::ContentLengthsDiffer(
                        text.clone(),
                        item.to_string(),
                    ))
                }
                Some(_) => {}
                None => found = Some((n, item.to_string())),
            }
        }
    }
    Ok(found.map(|(n, _)| n))
}

/// A TLS record's first bytes: 0x15 (alert) or 0x16 (handshake), then a
/// 3.x version, where an HTTP answer would start with `HTTP/`.
fn speaks_tls(start: &[u8]) -> bool {
    matches!(start, [0x15 | 0x16, 0x03, ..])
}

fn parse_error_text(error: httparse::Error) -> &'static str {
    use httparse::Error::*;
    match error {
        HeaderName => "invalid header name",
        HeaderValue => "invalid header value",
        NewLine => "invalid line ending",
        Status => "invalid status line",
        Token => "invalid token",
        TooManyHeaders => "more than 64 header lines",
        Version => "invalid HTTP version",
    }
}

fn not_http(start: &[u8]) -> FetchError {
    AnswerError::NotHttp(escaped(start, 24)).into()
}

/// Up to `max` bytes, printable ASCII as it is and the rest as `\xNN`.
fn escaped(bytes: &[u8], max: usize) -> String {
    let mut text: String = bytes
        .iter()
        .take(max)
        .map(|&b| match b {
            b' '..=b'~' if b != b'\\' => (b as char).to_string(),
            _ => format!("\\x{b:02x}"),
        })
        .collect();
    if bytes.len() > max {
        text.push_str("...");
    }
    text
}

fn escape_text(text: &str) -> String {
    escaped(text.as_bytes(), 32)
}

#[cfg(test)]
mod tests;
