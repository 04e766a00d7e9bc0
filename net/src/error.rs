//! Why a fetch failed, as types: a kind the metrics and the exit code can
//! match on, and `Display` for the one line a user reads. With them, the
//! bounds an answer is read within, which those lines name.

use std::fmt;
use std::time::Duration;

/// The longest response head read.
pub const MAX_HEAD: usize = 16 * 1024;
/// Response header lines parsed; a head with more is malformed.
pub(crate) const MAX_HEADERS: usize = 64;
/// Interim (1xx) answers skipped before the final one; Go's client allows 5.
pub(crate) const MAX_INTERIM: usize = 8;
/// A chunk-size line, extensions included.
pub(crate) const MAX_CHUNK_LINE: usize = 1024;
/// A chunk size is at most 16 hex digits: 64 bits.
pub(crate) const MAX_CHUNK_DIGITS: usize = 16;
/// The trailer section after the last chunk: lines and bytes.
pub(crate) const MAX_TRAILER_LINES: usize = 64;
pub(crate) const MAX_TRAILER_BYTES: usize = 8 * 1024;

/// Why a fetch failed.
#[derive(Debug, PartialEq)]
pub enum FetchError {
    Refused,
    TimedOut(Duration),
    HostNotFound,
    /// The answer's body was longer than the cap.
    BodyTooLarge {
        cap: u64,
        status: u16,
        /// A chunk size larger than the cap by itself, as the answer wrote it.
        chunk: Option<String>,
    },
    /// The response head was longer than MAX_HEAD.
    HeadTooLarge,
    Closed,
    Reset,
    /// A TLS handshake or TLS-level failure, as one line.
    Tls(String),
    /// The answer broke HTTP/1.1: its framing, lengths or head.
    Answer(AnswerError),
    /// Still a redirect after following as many as allowed, as Go's client
    /// and the kubelet stop.
    TooManyRedirects(u32),
    Other(String),
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Refused => f.write_str("connection refused"),
            FetchError::TimedOut(after) => {
                write!(f, "timed out after {}", common::duration::format(*after))
            }
            FetchError::HostNotFound => f.write_str("host not found"),
            FetchError::BodyTooLarge {
                chunk: Some(size),
                cap,
                ..
            } => write!(
                f,
                "answer: chunk size '{size}' over the {} cap (--max-body)",
                bytes_text(*cap)
            ),
            FetchError::BodyTooLarge { cap, .. } => {
                write!(f, "body larger than {cap} bytes (--max-body)")
            }
            FetchError::HeadTooLarge => {
                write!(f, "response head larger than {} KiB", MAX_HEAD / 1024)
            }
            FetchError::Closed => f.write_str("connection closed before a complete response"),
            FetchError::Reset => f.write_str("connection reset by peer"),
            FetchError::Tls(msg) | FetchError::Other(msg) => f.write_str(msg),
            FetchError::Answer(error) => error.fmt(f),
            FetchError::TooManyRedirects(n) => write!(f, "stopped after {n} redirects"),
        }
    }
}

impl std::error::Error for FetchError {}

/// Why an answer was not a valid HTTP/1.1 answer: each its own line.
#[derive(Debug, Clone, PartialEq)]
pub enum AnswerError {
    /// httparse's reason for a head it refused.
    MalformedHead(&'static str),
    /// What came back is not HTTP at all; the first bytes, escaped.
    NotHttp(String),
    /// A TLS record (an alert or a handshake) on a plain http:// connection.
    SpeaksTls,
    TooManyInterim,
    /// 101 Switching Protocols, which nothing here asks for.
    UnaskedUpgrade,
    ContentLengthNotANumber(String),
    ContentLengthsDiffer(String, String),
    ChunkLineTooLong,
    ChunkSizeNotHex(String),
    ChunkSizeTooLong(String),
    NoCrlfAfterChunk,
    TrailersTooLarge,
    /// The connection ended inside a Content-Length body.
    ShortBody {
        got: u64,
        want: u64,
    },
    /// The connection ended inside a chunked body.
    ShortChunked,
}

impl fmt::Display for AnswerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use AnswerError::*;
        f.write_str("answer: ")?;
        match self {
            MalformedHead(why) => write!(f, "malformed response head ({why})"),
            NotHttp(start) => write!(f, "not HTTP: it begins '{start}'"),
            SpeaksTls => f.write_str("the server speaks TLS: use https://"),
            TooManyInterim => write!(f, "more than {MAX_INTERIM} interim (1xx) answers"),
            UnaskedUpgrade => f.write_str("101 Switching Protocols, and no upgrade was asked"),
            ContentLengthNotANumber(text) => write!(f, "Content-Length '{text}' is not a number"),
            ContentLengthsDiffer(a, b) => {
                write!(f, "two Content-Length values ('{a}' and '{b}')")
            }
            ChunkLineTooLong => write!(f, "chunk size line longer than {MAX_CHUNK_LINE} bytes"),
            ChunkSizeNotHex(text) => write!(f, "chunk size '{text}' is not hex"),
            ChunkSizeTooLong(text) => {
                write!(
                    f,
                    "chunk size '{text}' has more than {MAX_CHUNK_DIGITS} digits"
                )
            }
            NoCrlfAfterChunk => f.write_str("no CRLF after chunk data"),
            TrailersTooLarge => write!(
                f,
                "trailers over {MAX_TRAILER_LINES} lines or {} KiB",
                MAX_TRAILER_BYTES / 1024
            ),
            ShortBody { got, want } => write!(
                f,
                "connection closed after {got} of {want} body bytes (Content-Length)"
            ),
            ShortChunked => f.write_str("connection closed inside a chunked body"),
        }
    }
}

impl std::error::Error for AnswerError {}

impl From<AnswerError> for FetchError {
    fn from(error: AnswerError) -> FetchError {
        FetchError::Answer(error)
    }
}

/// `1 MiB`, `64 KiB` or `1000 bytes`: a cap as a person wrote it.
pub fn bytes_text(n: u64) -> String {
    match n {
        0 => "0 bytes".into(),
        n if n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}
