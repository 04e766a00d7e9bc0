//! The answer reader over bytes in memory: each error's line, and property
//! tests of arbitrary and mutated answers read whole, a byte at a time and
//! split anywhere.

use super::*;
use proptest::prelude::*;

const MIB: u64 = 1 << 20;

/// Reads `bytes` handing out at most the next of `sizes` bytes per read
/// (cycling; 0 in `sizes` means one byte).
struct Split<'a> {
    bytes: &'a [u8],
    sizes: Vec<usize>,
    turn: usize,
}

impl Source for Split<'_> {
    fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, FetchError> {
        let size = self.sizes[self.turn % self.sizes.len()].max(1);
        self.turn += 1;
        let n = size.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

/// The outcome as text, for comparing two reads of the same bytes.
fn outcome(result: Result<(Head, Vec<u8>), FetchError>) -> Outcome {
    result
        .map(|(head, body)| (head.status, body))
        .map_err(|e| e.to_string())
}

/// The status and body read, or the error's line.
type Outcome = Result<(u16, Vec<u8>), String>;

fn whole(bytes: &[u8], cap: u64) -> Outcome {
    outcome(read(FromRead(bytes), false, cap))
}

fn split(bytes: &[u8], sizes: Vec<usize>, cap: u64) -> Outcome {
    outcome(read(
        Split {
            bytes,
            sizes,
            turn: 0,
        },
        false,
        cap,
    ))
}

fn answer(head: &str, body: &[u8]) -> Vec<u8> {
    [head.as_bytes(), body].concat()
}

const CHUNKED: &str = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";

#[test]
fn the_chunk_size_that_crashed_three_side_cars_is_one_line() {
    let bytes = format!("{CHUNKED}1\r\n{{\r\nffffffffffffffff\r\n");
    assert_eq!(
        whole(bytes.as_bytes(), MIB),
        Err("answer: chunk size 'ffffffffffffffff' over the 1 MiB cap (--max-body)".into())
    );
}

#[test]
fn each_broken_answer_names_its_cause() {
    let ok = |body: &str| Ok((200, body.as_bytes().to_vec()));
    let err = |line: &str| Err(line.to_string());
    let hundred_interim = "HTTP/1.1 100 Continue\r\n\r\n".repeat(9);
    let many_trailers = format!("{CHUNKED}0\r\n{}\r\n", "X-T: 1\r\n".repeat(65));
    let cases: Vec<(String, Outcome)> = vec![
        (format!("{CHUNKED}3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n"), ok("abcde")),
        (format!("{CHUNKED}3 \r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n"), ok("abc")),
        (format!("{CHUNKED}0000000000000003\r\nabc\r\n0\r\n\r\n"), ok("abc")),
        (
            format!("{CHUNKED}00000000000000003\r\nabc\r\n0\r\n\r\n"),
            err("answer: chunk size '00000000000000003' has more than 16 digits"),
        ),
        (format!("{CHUNKED}zz\r\nab\r\n"), err("answer: chunk size 'zz' is not hex")),
        (format!("{CHUNKED}\r\nab\r\n"), err("answer: chunk size '' is not hex")),
        (format!("{CHUNKED}-1\r\nab\r\n"), err("answer: chunk size '-1' is not hex")),
        (format!("{CHUNKED}3\r\nabcX\r\n0\r\n\r\n"), err("answer: no CRLF after chunk data")),
        (format!("{CHUNKED}3\r\nabc"), err("answer: connection closed inside a chunked body")),
        (format!("{CHUNKED}3\r\nabc\r\n0\r\n"), err("answer: connection closed inside a chunked body")),
        (
            format!("{CHUNKED}{}\r\n", "1".repeat(2000)),
            err("answer: chunk size line longer than 1024 bytes"),
        ),
        (many_trailers, err("answer: trailers over 64 lines or 8 KiB")),
        (
            format!("{CHUNKED}0\r\nX-T: {}\r\n\r\n", "t".repeat(9000)),
            err("answer: trailers over 64 lines or 8 KiB"),
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcde".into(),
            err("answer: two Content-Length values ('5' and '6')"),
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nabcde".into(),
            err("answer: two Content-Length values ('5' and '6')"),
        ),
        ("HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nab".into(), ok("ab")),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab".into(),
            ok("ab"),
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n".into(),
            err("answer: Content-Length '-1' is not a number"),
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n".into(),
            err("answer: Content-Length '99999999999999999999' is not a number"),
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc".into(),
            err("answer: connection closed after 3 of 10 body bytes (Content-Length)"),
        ),
        // Transfer-Encoding wins over Content-Length (RFC 9112 6.3).
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n".into(),
            ok("ab"),
        ),
        // A final coding other than chunked runs to the close.
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 1\r\n\r\nabc".into(), ok("abc")),
        ("HTTP/1.1 200 OK\r\n\r\nto the close".into(), ok("to the close")),
        (
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n\
             HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                .into(),
            ok("ok"),
        ),
        (hundred_interim, err("answer: more than 8 interim (1xx) answers")),
        (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n".into(),
            err("answer: 101 Switching Protocols, and no upgrade was asked"),
        ),
        ("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n".into(), Ok((204, vec![]))),
        ("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n".into(), Ok((304, vec![]))),
        (
            "\u{1}\u{2}\u{3}binary\u{7f}\r\n\r\n".into(),
            err("answer: not HTTP: it begins '\\x01\\x02\\x03binary\\x7f\\x0d\\x0a\\x0d\\x0a'"),
        ),
        ("SSH-2.0-OpenSSH_9.6\r\n".into(), err("answer: not HTTP: it begins 'SSH-2.0-OpenSSH_9.6\\x0d\\x0a'")),
        (
            "HTTP/1.1 2x0 OK\r\n\r\n".into(),
            err("answer: malformed response head (invalid status line)"),
        ),
        (
            "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n".into(),
            err("answer: malformed response head (invalid header name)"),
        ),
        (
            format!("HTTP/1.1 200 OK\r\n{}\r\n", "X: 1\r\n".repeat(65)),
            err("answer: malformed response head (more than 64 header lines)"),
        ),
        (
            format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", "a".repeat(20_000)),
            err("response head larger than 16 KiB"),
        ),
        ("".into(), err("connection closed before a complete response")),
        ("HTTP/1.1 200 OK\r\n".into(), err("connection closed before a complete response")),
    ];
    for (bytes, want) in cases {
        assert_eq!(whole(bytes.as_bytes(), MIB), want, "{bytes:?}");
        assert_eq!(
            split(bytes.as_bytes(), vec![1], MIB),
            want,
            "{bytes:?} a byte a read"
        );
    }
}

#[test]
fn a_tls_record_on_plain_http_says_to_use_https() {
    // A TLS 1.2 alert (protocol_version), as nginx's TLS port answers plain text.
    let alert = [0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46];
    assert_eq!(
        whole(&alert, MIB),
        Err("answer: the server speaks TLS: use https://".into())
    );
    let hello = [0x16, 0x03, 0x03, 0x00, 0x40];
    assert_eq!(
        whole(&hello, MIB),
        Err("answer: the server speaks TLS: use https://".into())
    );
}

#[test]
fn bodies_over_the_cap_are_refused_at_the_cap() {
    let cap = 10;
    let exact = answer("HTTP/1.1 200 OK\r\n\r\n", &[b'x'; 10]);
    assert_eq!(whole(&exact, cap), Ok((200, vec![b'x'; 10])));
    let over = answer("HTTP/1.1 200 OK\r\n\r\n", &[b'x'; 11]);
    assert_eq!(
        whole(&over, cap),
        Err("body larger than 10 bytes (--max-body)".into())
    );
    let length = answer("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", b"");
    assert_eq!(
        whole(&length, cap),
        Err("body larger than 10 bytes (--max-body)".into())
    );
    // Two chunks, each under the cap, over it together.
    let chunks = format!("{CHUNKED}6\r\nabcdef\r\n6\r\nghijkl\r\n0\r\n\r\n");
    assert_eq!(
        whole(chunks.as_bytes(), cap),
        Err("body larger than 10 bytes (--max-body)".into())
    );
    let status = read(FromRead(chunks.as_bytes()), false, cap).err();
    assert_eq!(
        status,
        Some(FetchError::BodyTooLarge {
            cap,
            status: 200,
            chunk: None
        })
    );
}

#[test]
fn a_head_request_reads_no_body() {
    let bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
    let (head, body) = read(FromRead(&bytes[..]), true, 10).unwrap();
    assert_eq!(
        (head.status, head.framing, head.content_length, body),
        (200, Framing::None, Some(1000), vec![])
    );
}

/// A source that never ends: `prefix`, then `filler` for ever; counts what
/// it handed out.
struct Endless {
    prefix: Vec<u8>,
    filler: u8,
    given: usize,
}

impl Source for Endless {
    fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, FetchError> {
        for (i, byte) in buf.iter_mut().enumerate() {
            *byte = self
                .prefix
                .get(self.given + i)
                .copied()
                .unwrap_or(self.filler);
        }
        self.given += buf.len();
        Ok(buf.len())
    }
}

#[test]
fn an_endless_answer_is_cut_after_a_bounded_read() {
    let cases = [
        ("", b'a', "response head larger than 16 KiB"),
        (
            "HTTP/1.1 200 OK\r\nX: ",
            b'a',
            "response head larger than 16 KiB",
        ),
        (
            CHUNKED,
            b'1',
            "answer: chunk size line longer than 1024 bytes",
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: ",
            b'a',
            "answer: trailers over 64 lines or 8 KiB",
        ),
        (
            "HTTP/1.1 200 OK\r\n\r\n",
            b'a',
            "body larger than 1048576 bytes (--max-body)",
        ),
    ];
    for (prefix, filler, want) in cases {
        let mut source = Endless {
            prefix: prefix.as_bytes().to_vec(),
            filler,
            given: 0,
        };
        let got = read(&mut source, false, MIB)
            .map(drop)
            .map_err(|e| e.to_string());
        assert_eq!(got, Err(want.to_string()), "{prefix:?}");
        assert!(
            source.given <= MIB as usize + 2 * READ_SIZE,
            "{prefix:?}: read {}",
            source.given
        );
    }
}

impl<S: Source> Source for &mut S {
    fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, FetchError> {
        (**self).read_some(buf)
    }
}

/// A valid answer carrying `chunks`, chunked or with a Content-Length.
fn encode(chunks: &[Vec<u8>], chunked: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if chunked {
        out.extend_from_slice(CHUNKED.as_bytes());
        for chunk in chunks.iter().filter(|c| !c.is_empty()) {
            out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
    } else {
        let body = chunks.concat();
        out.extend_from_slice(
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes(),
        );
        out.extend_from_slice(&body);
    }
    out
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Cut(usize),
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len().max(1);
        match *m {
            Mutation::Flip(at, bits) if !bytes.is_empty() => bytes[at % len] ^= bits.max(1),
            Mutation::Insert(at, byte) => bytes.insert(at % (bytes.len() + 1), byte),
            Mutation::Delete(at) if !bytes.is_empty() => drop(bytes.remove(at % len)),
            Mutation::Cut(at) => bytes.truncate(at % len),
            _ => {}
        }
    }
    bytes
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Mutation::Flip(a, b)),
        (
            any::<usize>(),
            prop_oneof![
                Just(b'\r'),
                Just(b'\n'),
                Just(b'0'),
                Just(b'f'),
                Just(b';'),
                any::<u8>()
            ]
        )
            .prop_map(|(a, b)| Mutation::Insert(a, b)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Cut),
    ]
}

/// Headers an answer may carry, to mutate around.
fn head_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("HTTP/1.1 100 Continue\r\n\r\n".to_string()),
        Just("HTTP/1.0 103 Early Hints\r\n\r\n".to_string()),
        Just(String::new()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Arbitrary bytes: an answer or an error, never a panic, the body
    /// within the cap, the same whether read whole or a byte at a time.
    #[test]
    fn arbitrary_bytes_get_an_answer_or_an_error(bytes in proptest::collection::vec(any::<u8>(), 0..600), cap in 0u64..64) {
        let once = whole(&bytes, cap);
        if let Ok((_, body)) = &once {
            prop_assert!(body.len() as u64 <= cap);
        }
        prop_assert_eq!(split(&bytes, vec![1], cap), once);
    }

    /// Arbitrary bytes after a valid chunked head: the chunk parser alone.
    #[test]
    fn arbitrary_chunked_bodies_get_an_answer_or_an_error(tail in proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'0'), Just(b'f'), Just(b';'), any::<u8>()], 0..300), cap in 0u64..40) {
        let bytes = answer(CHUNKED, &tail);
        let once = whole(&bytes, cap);
        if let Ok((_, body)) = &once {
            prop_assert!(body.len() as u64 <= cap);
        }
        prop_assert_eq!(split(&bytes, vec![1, 3, 7], cap), once);
    }

    /// Valid answers read back what they carry, split at any offsets.
    #[test]
    fn valid_answers_read_back_split_anywhere(
        interim in head_line(),
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..70), 0..6),
        chunked in any::<bool>(),
        sizes in proptest::collection::vec(0usize..40, 1..5),
    ) {
        let bytes = [interim.as_bytes(), &encode(&chunks, chunked)].concat();
        let want = Ok((200, chunks.concat()));
        prop_assert_eq!(&whole(&bytes, MIB), &want);
        prop_assert_eq!(split(&bytes, sizes, MIB), want);
    }

    /// Valid answers with bytes flipped, inserted, deleted or cut: an answer
    /// or an error, never a panic, the same however the reads fall.
    #[test]
    fn mutated_answers_get_an_answer_or_an_error(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..5),
        chunked in any::<bool>(),
        mutations in proptest::collection::vec(mutation(), 1..4),
        cap in prop_oneof![Just(MIB), 0u64..50],
    ) {
        let bytes = mutate(encode(&chunks, chunked), &mutations);
        let once = whole(&bytes, cap);
        if let Ok((_, body)) = &once {
            prop_assert!(body.len() as u64 <= cap);
        }
        prop_assert_eq!(split(&bytes, vec![1], cap), once.clone());
        prop_assert_eq!(split(&bytes, vec![5, 2], cap), once);
    }

    /// Differential: where ours reads a chunk size, httparse's own
    /// `parse_chunk_size` reads the same; where httparse reads one that
    /// starts with a digit, so does ours.
    #[test]
    fn chunk_sizes_read_as_httparse_reads_them(line in proptest::collection::vec(prop_oneof![
        4 => prop_oneof![Just(b'0'), Just(b'1'), Just(b'9'), Just(b'a'), Just(b'F'), Just(b'f')],
        1 => prop_oneof![Just(b' '), Just(b'\t'), Just(b';'), Just(b'='), Just(b'g'), Just(b'x'), Just(b'-'), Just(0xffu8)],
    ], 0..24)) {
        let theirs = match httparse::parse_chunk_size(&[&line[..], b"\r\n"].concat()) {
            Ok(httparse::Status::Complete((_, size))) => Some(size),
            _ => None,
        };
        match chunk_size(&line) {
            Ok(size) => prop_assert_eq!(Some(size), theirs),
            Err(_) => prop_assert!(
                theirs.is_none() || !line.first().is_some_and(u8::is_ascii_hexdigit),
                "httparse reads {:?} as {:?}", String::from_utf8_lossy(&line), theirs
            ),
        }
    }
}

#[test]
fn a_read_error_part_way_is_the_answer() {
    struct Failing(usize);
    impl Source for Failing {
        fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, FetchError> {
            let bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab";
            if self.0 >= bytes.len() {
                return Err(FetchError::Reset);
            }
            let n = (bytes.len() - self.0).min(buf.len());
            buf[..n].copy_from_slice(&bytes[self.0..self.0 + n]);
            self.0 += n;
            Ok(n)
        }
    }
    assert_eq!(read(Failing(0), false, MIB).err(), Some(FetchError::Reset));
}
