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
    /// A TLS handshake or TLS-level failure (boxed: it is the largest, and
    /// every Result of the client carries its size).
    Tls(Box<crate::tls::TlsError>),
    /// The answer broke HTTP/1.1: its framing, lengths or head.
    Answer(AnswerError),
    /// Still a redirect after following as many as allowed, as Go's client
    /// and the kubelet stop.
    TooManyRedirects(u32),
    /// A Location that is no http:// or https:// URL, as the answer wrote it.
    BadRedirect(String),
    /// The URL to fetch is not one (checked at start-up, so rarely seen).
    BadUrl(UrlError),
    /// The name lookup thread could not start.
    NoLookup,
    /// Another socket error, by its kind, with the system's words.
    Io(std::io::ErrorKind, String),
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
            FetchError::Tls(error) => error.fmt(f),
            FetchError::Io(_, msg) => f.write_str(msg),
            FetchError::Answer(error) => error.fmt(f),
            FetchError::TooManyRedirects(n) => write!(f, "stopped after {n} redirects"),
            FetchError::BadRedirect(location) => {
                write!(f, "cannot follow the redirect to {location:?}")
            }
            FetchError::BadUrl(error) => error.fmt(f),
            FetchError::NoLookup => f.write_str("cannot start a name lookup"),
        }
    }
}

impl std::error::Error for FetchError {}

impl From<std::io::Error> for FetchError {
    fn from(error: std::io::Error) -> FetchError {
        FetchError::Io(error.kind(), error.to_string())
    }
}

/// Why a URL given to a side-car is not one it can fetch.
#[derive(Debug, Clone, PartialEq)]
pub struct UrlError {
    pub url: String,
    pub problem: UrlProblem,
}

#[derive(Debug, Clone, PartialEq)]
pub enum UrlProblem {
    NoScheme,
    NotHttp,
    UserInfo,
    UnclosedBracket,
    NotIpv6(String),
    NoHost,
    BadPort(String),
    Invalid,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = &self.url;
        match &self.problem {
            UrlProblem::NoScheme => write!(f, "'{url}' has no scheme: add http:// (http://{url})"),
            UrlProblem::NotHttp => write!(f, "'{url}' is not an http:// or https:// URL"),
            UrlProblem::UserInfo => write!(f, "'{url}': user info in a URL is not supported"),
            UrlProblem::UnclosedBracket => write!(f, "'{url}': unclosed [ in the host"),
            UrlProblem::NotIpv6(host) => write!(f, "'{url}': '{host}' is not an IPv6 address"),
            UrlProblem::NoHost => write!(f, "'{url}' has no host"),
            UrlProblem::BadPort(port) => write!(f, "'{url}': bad port '{port}'"),
            UrlProblem::Invalid => write!(f, "'{url}' is not a valid URL"),
        }
    }
}

impl std::error::Error for UrlError {}

/// Why a `--header` is not `Name: value`.
#[derive(Debug, Clone, PartialEq)]
pub enum HeaderError {
    NoColon(String),
    BadName(String),
    BadValue(String),
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::NoColon(text) => write!(f, "'{text}' is not 'Name: value'"),
            HeaderError::BadName(name) => write!(f, "'{name}' is not a valid header name"),
            HeaderError::BadValue(value) => write!(f, "'{value}' is not a valid header value"),
        }
    }
}

impl std::error::Error for HeaderError {}

/// Why an answer failed a check's or a target's conditions: the line
/// ready-check and latency-exporter say, and whether a condition the user
/// gave failed (`probe_failed_due_to_condition`) rather than the default
/// status range.
#[derive(Debug, Clone, PartialEq)]
pub enum ConditionFailure {
    Status {
        got: u16,
        /// `200-399`, or the `--status` codes (said joined by "or").
        want: Result<Vec<u16>, &'static str>,
        /// From `--status`, not the program's default range.
        given: bool,
    },
    NotContained(String),
    /// serde_json's reason.
    NotJson(String),
    JsonMissing(String),
    JsonDiffers {
        pointer: String,
        found: String,
        op: &'static str,
        want: String,
    },
    /// A `--cel` expression was not true.
    Cel {
        expression: String,
        outcome: CelOutcome,
    },
}

/// How a `--cel` expression failed.
#[derive(Debug, Clone, PartialEq)]
pub enum CelOutcome {
    /// False; with the first false part of a conjunction, where one is.
    False(Option<String>),
    /// A value of another type than bool.
    NotBool(&'static str),
    /// An error: `no such key: "x"`, `body is not JSON (...)`, the budget.
    Error(String),
}

impl ConditionFailure {
    /// Whether a condition the user gave failed.
    pub fn by_condition(&self) -> bool {
        !matches!(self, ConditionFailure::Status { given: false, .. })
    }

    /// Whether a `--cel` expression failed (`probe_failed_due_to_cel`).
    pub fn by_cel(&self) -> bool {
        matches!(self, ConditionFailure::Cel { .. })
    }
}

impl fmt::Display for ConditionFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConditionFailure::Status { got, want, .. } => {
                write!(f, "status {got}, want ")?;
                match want {
                    Err(range) => f.write_str(range),
                    // Written, not joined: a joined String cost the executables 900 bytes.
                    Ok(codes) => codes.iter().enumerate().try_for_each(|(i, code)| {
                        write!(f, "{}{code}", if i == 0 { "" } else { " or " })
                    }),
                }
            }
            ConditionFailure::NotContained(text) => write!(f, "body does not contain {text:?}"),
            ConditionFailure::NotJson(why) => write!(f, "body is not JSON ({why})"),
            ConditionFailure::JsonMissing(pointer) => write!(f, "{pointer} missing"),
            ConditionFailure::JsonDiffers {
                pointer,
                found,
                op,
                want,
            } => write!(f, "{pointer} is {found}, want {op} {want}"),
            ConditionFailure::Cel {
                expression,
                outcome,
            } => {
                write!(f, "--cel '{expression}' ")?;
                match outcome {
                    CelOutcome::False(Some(part)) => write!(f, "is false: {part} is false"),
                    CelOutcome::False(None) => f.write_str("is false"),
                    CelOutcome::NotBool(kind) => write!(f, "gave a {kind}, not a bool"),
                    CelOutcome::Error(why) => write!(f, "failed: {why}"),
                }
            }
        }
    }
}

impl std::error::Error for ConditionFailure {}

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
