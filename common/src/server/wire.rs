//! HTTP/1.1 on the wire: parsing a request head, encoding an answer.

use std::io::Write;

pub const TEXT: &str = "text/plain; charset=utf-8";

/// A parsed request head. The body, if any, is never read.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(status: u16, body: impl Into<String>) -> Response {
        Response {
            status,
            content_type: TEXT,
            body: body.into().into_bytes(),
        }
    }
}

pub const MAX_HEAD_BYTES: usize = 8 * 1024;
pub const MAX_HEADERS: usize = 64;

/// What the bytes received so far hold.
pub enum Head {
    Complete {
        request: Request,
        len: usize,
        keep_alive: bool,
    },
    /// More bytes are needed (and allowed).
    Partial,
    /// Over MAX_HEAD_BYTES or MAX_HEADERS.
    TooLarge,
    Malformed,
}

pub fn parse_head(buf: &[u8]) -> Head {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    let len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD_BYTES => return Head::Partial,
        Ok(httparse::Status::Partial) | Err(httparse::Error::TooManyHeaders) => {
            return Head::TooLarge
        }
        Err(_) => return Head::Malformed,
    };
    let target = parsed.path.unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let has_body = parsed.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("transfer-encoding")
            || (h.name.eq_ignore_ascii_case("content-length") && h.value.trim_ascii() != b"0")
    });
    let wants_close = parsed.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("connection") && h.value.eq_ignore_ascii_case(b"close")
    });
    let request = Request {
        method: parsed.method.unwrap_or("").to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers: parsed
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_string(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect(),
    };
    // Keep-alive only where the next request can be found: no body to skip.
    let keep_alive = parsed.version == Some(1) && !wants_close && !has_body;
    Head::Complete {
        request,
        len,
        keep_alive,
    }
}

pub(super) fn encode(response: &Response, head_only: bool, keep_alive: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(160 + if head_only { 0 } else { response.body.len() });
    let _ = write!(
        out,
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}{}\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len(),
        if response.status == 405 {
            "Allow: GET, HEAD\r\n"
        } else {
            ""
        },
        if keep_alive {
            ""
        } else {
            "Connection: close\r\n"
        },
    );
    if !head_only {
        out.extend_from_slice(&response.body);
    }
    out
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Any bytes: a head, a request for more, or a refusal; never a
        /// panic, and never a head longer than what was received.
        #[test]
        fn any_bytes_are_parsed_or_refused(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            if let Head::Complete { len, .. } = parse_head(&bytes) {
                prop_assert!(len <= bytes.len());
            }
        }

        /// A well-formed head (any method, path, query and headers) comes
        /// out as it went in, whatever follows it.
        #[test]
        fn well_formed_heads_come_out_as_they_went_in(
            method in "[A-Z]{1,8}",
            path in "/[a-zA-Z0-9._~/-]{0,40}",
            query in proptest::option::of("[a-z0-9=&]{0,20}"),
            headers in proptest::collection::vec(("[A-Za-z][A-Za-z0-9-]{0,15}", "[ -~]{0,40}"), 0..10),
            rest in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let target = match &query { Some(q) => format!("{path}?{q}"), None => path.clone() };
            let mut head = format!("{method} {target} HTTP/1.1\r\n");
            for (name, value) in &headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str("\r\n");
            let mut bytes = head.clone().into_bytes();
            bytes.extend_from_slice(&rest);
            match parse_head(&bytes) {
                Head::Complete { request, len, .. } => {
                    prop_assert_eq!(len, head.len());
                    prop_assert_eq!(&request.method, &method);
                    prop_assert_eq!(&request.path, &path);
                    prop_assert_eq!(request.query, query.unwrap_or_default());
                    prop_assert_eq!(request.headers.len(), headers.len());
                    for ((name, value), (got_name, got_value)) in headers.iter().zip(&request.headers) {
                        prop_assert!(name.eq_ignore_ascii_case(got_name));
                        prop_assert_eq!(value.trim(), got_value.trim());
                    }
                }
                _ => prop_assert!(false, "refused {:?}", head),
            }
        }
    }

    fn complete(bytes: &[u8]) -> (Request, usize, bool) {
        match parse_head(bytes) {
            Head::Complete {
                request,
                len,
                keep_alive,
            } => (request, len, keep_alive),
            _ => panic!("not complete: {:?}", String::from_utf8_lossy(bytes)),
        }
    }

    #[test]
    fn heads_paths_and_keep_alive() {
        let (request, len, keep_alive) = complete(b"GET /ready?x=1 HTTP/1.1\r\nHost: a\r\n\r\nGET");
        assert_eq!(
            (
                request.method.as_str(),
                request.path.as_str(),
                request.query.as_str()
            ),
            ("GET", "/ready", "x=1")
        );
        assert_eq!((len, keep_alive), (36, true));
        assert_eq!(request.header("host"), Some("a"));
        assert!(!complete(b"GET / HTTP/1.0\r\n\r\n").2, "HTTP/1.0 closes");
        assert!(!complete(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").2);
        // A body is never read, so the next request cannot be found.
        assert!(!complete(b"POST / HTTP/1.1\r\nContent-Length: 1000000000000\r\n\r\n").2);
        assert!(complete(b"GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").2);
    }

    #[test]
    fn partial_too_large_and_malformed() {
        assert!(matches!(
            parse_head(b"GET / HTTP/1.1\r\nHost:"),
            Head::Partial
        ));
        let long = [b"GET /".as_slice(), &vec![b'a'; MAX_HEAD_BYTES]].concat();
        assert!(matches!(parse_head(&long), Head::TooLarge));
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
        assert!(matches!(
            parse_head(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()),
            Head::TooLarge
        ));
        assert!(matches!(
            parse_head(b"\x00\x01\x02 garbage\r\n\r\n"),
            Head::Malformed
        ));
    }

    #[test]
    fn head_answers_carry_the_length_but_no_body() {
        let response = Response::text(200, "ok\n");
        let full = String::from_utf8(encode(&response, false, true)).unwrap();
        assert_eq!(full, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\n\r\nok\n");
        let head = String::from_utf8(encode(&response, true, false)).unwrap();
        assert!(
            head.ends_with("Content-Length: 3\r\nConnection: close\r\n\r\n"),
            "{head}"
        );
        let not_allowed =
            String::from_utf8(encode(&Response::text(405, ""), false, false)).unwrap();
        assert!(not_allowed.contains("Allow: GET, HEAD\r\n"));
    }
}
