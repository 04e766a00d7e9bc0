//! The hostile servers every client side-car must withstand: one target on
//! 127.0.0.1 whose path names the way its answer breaks HTTP/1.1. Each must
//! give a failed check, a failed run or `probe_success 0`, inside the
//! side-car's timeout: never exit 70, never a signal, never a hang.

use crate::target::{Reply, Target};
use std::time::Duration;

const CHUNKED: &str = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";

/// One way to break an answer.
pub struct Case {
    pub name: &'static str,
    /// What the failure line says, with a 1 s timeout, a 1 MiB body cap and
    /// redirects followed (up to 10).
    pub reason: &'static str,
    /// The answer's status is 2xx and only its body is larger than the cap:
    /// `every`, for which only the status counts, records a success.
    pub over_cap_after_2xx: bool,
}

const fn case(name: &'static str, reason: &'static str) -> Case {
    Case {
        name,
        reason,
        over_cap_after_2xx: false,
    }
}

pub const CASES: &[Case] = &[
    // The answer: a chunk size chosen to wrap the arithmetic.
    Case {
        name: "chunk-wraps",
        reason: "answer: chunk size 'ffffffffffffffff' over the 1 MiB cap (--max-body)",
        over_cap_after_2xx: true,
    },
    case(
        "chunk-17-digits",
        "answer: chunk size '00000000000000001' has more than 16 digits",
    ),
    case("chunk-not-hex", "answer: chunk size 'zz' is not hex"),
    case("chunk-no-crlf", "answer: no CRLF after chunk data"),
    case(
        "trailers-endless",
        "answer: trailers over 64 lines or 8 KiB",
    ),
    case(
        "two-lengths",
        "answer: two Content-Length values ('2' and '3')",
    ),
    case(
        "negative-length",
        "answer: Content-Length '-1' is not a number",
    ),
    case(
        "length-not-a-number",
        "answer: Content-Length '1e3' is not a number",
    ),
    case(
        "short-body",
        "answer: connection closed after 3 of 100 body bytes (Content-Length)",
    ),
    case("interim-flood", "answer: more than 8 interim (1xx) answers"),
    case(
        "unasked-upgrade",
        "answer: 101 Switching Protocols, and no upgrade was asked",
    ),
    case("header-2mib", "response head larger than 16 KiB"),
    case("headers-10000", "response head larger than 16 KiB"),
    case("binary-status", "answer: not HTTP: it begins"),
    Case {
        name: "body-endless",
        reason: "body larger than 1048576 bytes",
        over_cap_after_2xx: true,
    },
    case("byte-every-150ms", "timed out after 1s"),
    case("reset", "connection reset by peer"),
    case("redirect-self", "stopped after 10 redirects"),
    case("redirect-invalid", "cannot follow the redirect"),
    case("redirect-other-scheme", "cannot follow the redirect"),
    case("tls-on-http", "answer: the server speaks TLS: use https://"),
];

/// The answer a case's path gets.
fn reply(name: &str) -> Reply {
    let raw = |text: String| Reply::Raw(text.into_bytes());
    match name {
        "chunk-wraps" => raw(format!("{CHUNKED}1\r\n{{\r\nffffffffffffffff\r\n")),
        "chunk-17-digits" => raw(format!("{CHUNKED}00000000000000001\r\na\r\n0\r\n\r\n")),
        "chunk-not-hex" => raw(format!("{CHUNKED}zz\r\nab\r\n0\r\n\r\n")),
        "chunk-no-crlf" => raw(format!("{CHUNKED}3\r\nabcXY0\r\n\r\n")),
        "trailers-endless" => raw(format!("{CHUNKED}0\r\n{}", "X-T: 1\r\n".repeat(10_000))),
        "two-lengths" => {
            raw("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc".into())
        }
        "negative-length" => raw("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nabc".into()),
        "length-not-a-number" => raw("HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\nabc".into()),
        "short-body" => raw("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc".into()),
        "interim-flood" => raw("HTTP/1.1 100 Continue\r\n\r\n".repeat(1000)),
        "unasked-upgrade" => raw("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n".into()),
        "header-2mib" => raw(format!(
            "HTTP/1.1 200 OK\r\nX-Big: {}\r\n\r\n",
            "a".repeat(2 << 20)
        )),
        "headers-10000" => raw(format!(
            "HTTP/1.1 200 OK\r\n{}Content-Length: 0\r\n\r\n",
            (0..10_000)
                .map(|i| format!("X-H{i}: v\r\n"))
                .collect::<String>()
        )),
        "binary-status" => {
            Reply::Raw([&b"\x00\xff\xfe\x01HTTP\x7f\x80 200"[..], b"\r\n\r\n"].concat())
        }
        "body-endless" => Reply::Endless(b"HTTP/1.1 200 OK\r\n\r\n".to_vec()),
        "byte-every-150ms" => Reply::Trickle(
            Duration::from_millis(150),
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(),
        ),
        "reset" => Reply::Reset,
        "redirect-self" => raw(
            "HTTP/1.1 302 Found\r\nLocation: /redirect-self\r\nContent-Length: 0\r\n\r\n".into(),
        ),
        "redirect-invalid" => raw(
            "HTTP/1.1 302 Found\r\nLocation: http://exa mple:99999/\r\nContent-Length: 0\r\n\r\n"
                .into(),
        ),
        "redirect-other-scheme" => raw(
            "HTTP/1.1 302 Found\r\nLocation: ftp://127.0.0.1/x\r\nContent-Length: 0\r\n\r\n".into(),
        ),
        // A TLS alert record (protocol_version), as a TLS port answers text.
        "tls-on-http" => Reply::Raw(vec![0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46]),
        _ => Reply::ok("{\"ok\": true}"),
    }
}

/// A target that answers `/NAME` as the case NAME breaks it, and anything
/// else with a good 200.
pub fn start() -> Target {
    Target::start(|hit| reply(hit.path.trim_start_matches('/')))
}
