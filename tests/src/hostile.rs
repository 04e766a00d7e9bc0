//! The hostile clients every listening side-car must withstand. Each
//! runs while a well-behaved GET is timed: it must be answered within the
//! kubelet's probe budget, and the server must stay alive with bounded
//! memory.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The budget a well-behaved request gets: the kubelet gives a probe 1 s.
/// These run in the parallel phase, beside other tests on a busy machine,
/// where 100 ms once failed for nothing; a server that a hostile client
/// blocks never answers at all, and fails this just the same.
pub const PROMPT: Duration = Duration::from_secs(1);

/// A timed GET that must succeed promptly.
pub fn assert_prompt(addr: &str, path: &str, during: &str) {
    let started = Instant::now();
    let (status, _, _) =
        crate::http(addr, "GET", path).unwrap_or_else(|e| panic!("{during}: GET {path}: {e}"));
    let took = started.elapsed();
    assert!((200..600).contains(&status), "{during}: status {status}");
    assert!(
        took < PROMPT,
        "{during}: a well-behaved GET {path} took {took:?}"
    );
}

fn connect(addr: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_write_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    stream
}

/// 1. A GET declaring a body of a terabyte and sending none.
pub fn huge_content_length(addr: &str, path: &str) {
    let mut clients: Vec<TcpStream> = (0..20).map(|_| connect(addr)).collect();
    for c in &mut clients {
        let _ = write!(
            c,
            "GET {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\n\r\n"
        );
    }
    assert_prompt(addr, path, "huge Content-Length");
}

/// 2. 300 idle connections, and 50 clients sending a header a byte a second.
pub fn idle_and_slow(addr: &str, path: &str) {
    let _idle: Vec<TcpStream> = (0..300).map(|_| connect(addr)).collect();
    let mut slow: Vec<TcpStream> = (0..50).map(|_| connect(addr)).collect();
    let request = format!("GET {path} HTTP/1.1\r\nHost: slow\r\nX-Slow: ");
    for byte in request.as_bytes().iter().take(4) {
        for c in &mut slow {
            let _ = c.write_all(&[*byte]);
        }
        assert_prompt(addr, path, "300 idle and 50 slow clients");
        std::thread::sleep(Duration::from_millis(250));
    }
    for _ in 0..3 {
        assert_prompt(addr, path, "300 idle and 50 slow clients");
    }
}

/// 3. A 1 MiB request line, a 1 MiB header, and 10,000 headers.
pub fn huge_heads(addr: &str, path: &str) {
    let long = "a".repeat(1 << 20);
    let many: String = (0..10_000).map(|i| format!("X-H{i}: v\r\n")).collect();
    let heads = [
        format!("GET /{long} HTTP/1.1\r\n\r\n"),
        format!("GET {path} HTTP/1.1\r\nX-Big: {long}\r\n\r\n"),
        format!("GET {path} HTTP/1.1\r\n{many}\r\n"),
    ];
    let writers: Vec<_> = heads
        .into_iter()
        .map(|head| {
            let mut c = connect(addr);
            std::thread::spawn(move || {
                let _ = c.write_all(head.as_bytes());
            })
        })
        .collect();
    assert_prompt(addr, path, "1 MiB heads and 10,000 headers");
    for w in writers {
        let _ = w.join();
    }
    assert_prompt(addr, path, "after 1 MiB heads and 10,000 headers");
}

/// 4. Random bytes instead of HTTP.
pub fn random_bytes(addr: &str, path: &str) {
    let mut rng = crate::rng::Rng::new(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20 {
        let mut c = connect(addr);
        let _ = c.write_all(&rng.bytes(16 * 1024));
    }
    assert_prompt(addr, path, "random bytes");
}

/// 5. Clients that send requests and never read the answers.
pub fn never_reads(addr: &str, path: &str) {
    let pipelined = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").repeat(200);
    let _clients: Vec<TcpStream> = (0..10)
        .map(|_| {
            let mut c = connect(addr);
            let _ = c.write_all(pipelined.as_bytes());
            c
        })
        .collect();
    assert_prompt(addr, path, "clients that never read");
}

/// 6. A burst of 2,000 connects, faster than anyone accepts.
///
/// The kernel's queue of them must hold the burst, or a well-behaved
/// probe's SYN is dropped and it waits out a 1 s retransmission.
pub fn connect_burst(addr: &str, path: &str) {
    use std::os::fd::{FromRawFd, OwnedFd};
    let target: std::net::SocketAddrV4 = addr.parse().expect("an IPv4 address");
    let sockaddr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: target.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*target.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    let fire = || {
        (0..250)
            .filter_map(|_| {
                // SAFETY: a fresh socket, connected without waiting.
                unsafe {
                    let fd =
                        libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0);
                    if fd < 0 {
                        return None;
                    }
                    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
                    libc::connect(fd, (&sockaddr as *const libc::sockaddr_in).cast(), len);
                    Some(OwnedFd::from_raw_fd(fd))
                }
            })
            .collect::<Vec<OwnedFd>>()
    };
    std::thread::scope(|scope| {
        let bursts: Vec<_> = (0..8).map(|_| scope.spawn(fire)).collect();
        assert_prompt(addr, path, "a burst of 2,000 connects");
        for burst in bursts {
            drop(burst.join().unwrap());
        }
    });
}

/// All six, then the server must be alive with its resident set under `max_rss_kib`.
pub fn withstands_all(addr: &str, path: &str, pid: i32, max_rss_kib: u64) {
    connect_burst(addr, path);
    huge_content_length(addr, path);
    idle_and_slow(addr, path);
    huge_heads(addr, path);
    random_bytes(addr, path);
    never_reads(addr, path);
    assert_prompt(addr, path, "after all hostile clients");
    let rss = crate::proc_status_value(pid, "VmRSS:");
    assert!(rss > 0, "the server died");
    assert!(rss < max_rss_kib, "resident set grew to {rss} KiB");
}
