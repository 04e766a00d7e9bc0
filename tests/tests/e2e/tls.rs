//! HTTPS and tls:// against local servers only: a CA, an intermediate and
//! leaves made here with rcgen, served by rustls on 127.x addresses, and
//! hostile TLS peers on raw sockets. Each failure is its own line within
//! the timeout; the series equal the real blackbox exporter's.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sidecars_tests::prom::{scrape_checked, wait_for_sample};
use sidecars_tests::{free_loopback_addr, get, run, tempdir, Daemon};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const DAY: i64 = 86_400;

fn ring() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A whole second `days` from now (certificates carry seconds).
pub(crate) fn days_from_now(days: i64) -> i64 {
    unix_now() / 60 * 60 + days * DAY
}

/// A certificate, its key, and both as PEM files.
pub(crate) struct Issued {
    cert: rcgen::Certificate,
    key: KeyPair,
    pub(crate) not_after: i64,
    cert_file: PathBuf,
    key_file: PathBuf,
}

impl Issued {
    pub(crate) fn der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }

    fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivatePkcs8KeyDer::from(self.key.serialize_der()).into()
    }
}

/// A test PKI: a root CA and an intermediate, in a directory of its own.
pub(crate) struct Pki {
    dir: PathBuf,
    root: Issued,
    intermediate: Issued,
}

fn params(cn: &str, names: &[&str], valid: (i64, i64)) -> (CertificateParams, i64) {
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "sidecars tests");
    let at = |secs| time::OffsetDateTime::from_unix_timestamp(secs).unwrap();
    params.not_before = at(valid.0);
    params.not_after = at(valid.1);
    (params, valid.1)
}

impl Pki {
    pub(crate) fn new(name: &str) -> Pki {
        let dir = tempdir(name);
        let (mut root, root_end) = params(
            &format!("sidecars test root {name}"),
            &[],
            (days_from_now(-10), days_from_now(3650)),
        );
        root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        root.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let root_key = KeyPair::generate().unwrap();
        let root_cert = root.self_signed(&root_key).unwrap();
        let root = save(&dir, "root", root_cert, root_key, root_end, &[]);
        let (mut mid, mid_end) = params(
            "sidecars test intermediate",
            &[],
            (days_from_now(-5), days_from_now(400)),
        );
        mid.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        mid.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let mid_key = KeyPair::generate().unwrap();
        let mid_cert = mid.signed_by(&mid_key, &root.cert, &root.key).unwrap();
        let intermediate = save(&dir, "intermediate", mid_cert, mid_key, mid_end, &[]);
        Pki {
            dir,
            root,
            intermediate,
        }
    }

    /// A leaf for `names`, signed by the intermediate; its file holds the
    /// leaf and the intermediate, as servers send them.
    pub(crate) fn leaf(&self, file: &str, names: &[&str], valid: (i64, i64)) -> Issued {
        let (params, end) = params(names.first().copied().unwrap_or(file), names, valid);
        let key = KeyPair::generate().unwrap();
        let cert = params
            .signed_by(&key, &self.intermediate.cert, &self.intermediate.key)
            .unwrap();
        save(&self.dir, file, cert, key, end, &[&self.intermediate])
    }

    pub(crate) fn ca_file(&self) -> String {
        self.root.cert_file.display().to_string()
    }
}

fn save(
    dir: &std::path::Path,
    name: &str,
    cert: rcgen::Certificate,
    key: KeyPair,
    not_after: i64,
    issuers: &[&Issued],
) -> Issued {
    let cert_file = dir.join(format!("{name}.crt"));
    let key_file = dir.join(format!("{name}.key"));
    let mut pem = cert.pem();
    for issuer in issuers {
        pem.push_str(&issuer.cert.pem());
    }
    std::fs::write(&cert_file, pem).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    Issued {
        cert,
        key,
        not_after,
        cert_file,
        key_file,
    }
}

/// A server on a loopback address of its own, until dropped.
pub(crate) struct Server {
    pub(crate) addr: String,
    stop: Arc<AtomicBool>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
    }
}

pub(crate) fn listen(handle: impl Fn(TcpStream) + Send + Sync + 'static) -> Server {
    listen_at(free_loopback_addr(), handle)
}

fn listen_at(addr: String, handle: impl Fn(TcpStream) + Send + Sync + 'static) -> Server {
    let listener = TcpListener::bind(&addr).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let handle = Arc::new(handle);
    let stopped = stop.clone();
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            if stopped.load(Ordering::SeqCst) {
                return;
            }
            let Ok(socket) = socket else { continue };
            let _ = socket.set_read_timeout(Some(Duration::from_secs(10)));
            let handle = handle.clone();
            std::thread::spawn(move || handle(socket));
        }
    });
    Server { addr, stop }
}

#[derive(Clone, Copy)]
enum Versions {
    Both,
    Only12,
    Only13,
}

/// An HTTPS server: `200 ok`, or a redirect to `redirect`; with `client_ca`
/// it requires a client certificate issued under it.
fn https_server(
    addr: String,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    versions: Versions,
    client_ca: Option<CertificateDer<'static>>,
    redirect: Option<String>,
) -> Server {
    let versions: &[&rustls::SupportedProtocolVersion] = match versions {
        Versions::Both => &[&rustls::version::TLS13, &rustls::version::TLS12],
        Versions::Only12 => &[&rustls::version::TLS12],
        Versions::Only13 => &[&rustls::version::TLS13],
    };
    let builder = rustls::ServerConfig::builder_with_provider(ring())
        .with_protocol_versions(versions)
        .unwrap();
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(ca).unwrap();
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                ring(),
            )
            .build()
            .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let config = Arc::new(builder.with_single_cert(chain, key).unwrap());
    listen_at(addr, move |socket| {
        let Ok(connection) = rustls::ServerConnection::new(config.clone()) else {
            return;
        };
        let mut tls = rustls::StreamOwned::new(connection, socket);
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16384 {
            match tls.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let reply = match &redirect {
            Some(to) => format!(
                "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            ),
            None => "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".into(),
        };
        let _ = tls.write_all(reply.as_bytes());
        tls.conn.send_close_notify();
        let _ = tls.flush();
    })
}

/// `leaf` (as `der`, which may differ from its own) and the intermediate,
/// served on `addr` over TLS 1.2 and 1.3.
pub(crate) fn serve_leaf(
    pki: &Pki,
    addr: String,
    der: CertificateDer<'static>,
    leaf: &Issued,
) -> Server {
    https_server(
        addr,
        vec![der, pki.intermediate.der()],
        leaf.key_der(),
        Versions::Both,
        None,
        None,
    )
}

/// A valid chain for 127.x (and a DNS name), served by rustls.
fn valid_server(pki: &Pki, name: &str, versions: Versions) -> (Server, Issued) {
    // The leaf is made for the address the server will have: bind first.
    let addr = free_loopback_addr();
    let ip = addr.rsplit_once(':').unwrap().0.to_string();
    let leaf = pki.leaf(
        name,
        &[&format!("{name}.sidecars.test"), &ip],
        (days_from_now(-1), days_from_now(90)),
    );
    let server = https_server(
        addr.clone(),
        vec![leaf.der(), pki.intermediate.der()],
        leaf.key_der(),
        versions,
        None,
        None,
    );
    (server, leaf)
}

fn ready_check(args: &[&str]) -> sidecars_tests::Ran {
    run("ready-check", args)
}

/// `ready-check` fails with exactly `reason` in its one FAIL line, well
/// within the timeout.
fn fails_with(args: &[&str], reason: &str) {
    let ran = ready_check(args);
    assert_eq!(ran.code, 1, "{args:?}: {} {}", ran.stdout, ran.stderr);
    assert!(
        ran.stdout.contains("FAIL") && ran.stdout.contains(reason),
        "{args:?}: want {reason:?}, got {}",
        ran.stdout
    );
    assert_eq!(ran.stdout.lines().count(), 1, "{}", ran.stdout);
    assert!(ran.elapsed < Duration::from_secs(3), "{:?}", ran.elapsed);
}

#[test]
fn a_valid_chain_passes_and_each_bad_certificate_has_its_own_line() {
    let pki = Pki::new("tls-verify");
    let ca = pki.ca_file();
    let (good, _) = valid_server(&pki, "good", Versions::Both);
    let url = format!("https://{}/", good.addr);
    let ran = ready_check(&["--ca-file", &ca, "--http", &url]);
    assert_eq!(ran.code, 0, "{} {}", ran.stdout, ran.stderr);
    // Without the CA, the default roots (built in, or SSL_CERT_* when the
    // environment sets them, as on CI machines) do not know it.
    fails_with(
        &["--http", &url],
        "unknown issuer (give the CA with --ca-file, or --insecure as the kubelet's HTTPS probe does)",
    );
    // The same CA from SSL_CERT_FILE, as Go, curl and OpenSSL read it.
    let ran = sidecars_tests::run_command(
        std::process::Command::new(sidecars_tests::bin("ready-check"))
            .env("SSL_CERT_FILE", &ca)
            .args(["--http", &url]),
    );
    assert_eq!(ran.code, 0, "SSL_CERT_FILE: {} {}", ran.stdout, ran.stderr);

    // An expired leaf: the line names when.
    let expired_at = days_from_now(-3) / DAY * DAY;
    let addr = free_loopback_addr();
    let ip = addr.rsplit_once(':').unwrap().0.to_string();
    let expired = pki.leaf("expired", &[&ip], (days_from_now(-30), expired_at));
    let old = https_server(
        addr.clone(),
        vec![expired.der(), pki.intermediate.der()],
        expired.key_der(),
        Versions::Both,
        None,
        None,
    );
    fails_with(
        &[
            "--ca-file",
            &ca,
            "--http",
            &format!("https://{}/", old.addr),
        ],
        &format!(
            "certificate expired at {}",
            common::civil::format_utc(expired_at)
        ),
    );

    // A name the certificate is not for.
    let other = pki.leaf("a", &["a.example"], (days_from_now(-1), days_from_now(30)));
    let wrong = https_server(
        free_loopback_addr(),
        vec![other.der(), pki.intermediate.der()],
        other.key_der(),
        Versions::Both,
        None,
        None,
    );
    let wrong_url = format!("https://{}/", wrong.addr);
    fails_with(
        &[
            "--ca-file",
            &ca,
            "--server-name",
            "b.example",
            "--http",
            &wrong_url,
        ],
        "certificate for a.example, not b.example",
    );
    // --server-name sets the name verified: the right one passes.
    let ran = ready_check(&[
        "--ca-file",
        &ca,
        "--server-name",
        "a.example",
        "--http",
        &wrong_url,
    ]);
    assert_eq!(ran.code, 0, "{}", ran.stdout);

    // A self-signed leaf: refused, and accepted with --insecure, as the
    // kubelet's HTTPS probe accepts it.
    let own_addr = free_loopback_addr();
    let own_ip = own_addr.rsplit_once(':').unwrap().0.to_string();
    let (mut own, _) = params("self", &[&own_ip], (days_from_now(-1), days_from_now(30)));
    own.is_ca = IsCa::NoCa;
    let own_key = KeyPair::generate().unwrap();
    let own_cert = own.self_signed(&own_key).unwrap();
    let own_der = own_cert.der().clone();
    let self_signed = https_server(
        own_addr.clone(),
        vec![own_der],
        PrivatePkcs8KeyDer::from(own_key.serialize_der()).into(),
        Versions::Both,
        None,
        None,
    );
    let self_url = format!("https://{}/", self_signed.addr);
    fails_with(&["--http", &self_url], "unknown issuer");
    let ran = ready_check(&["--insecure", "--http", &self_url]);
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    // The same leaf given as the CA file is trusted, as it is named.
    let own_file = pki.dir.join("self.crt");
    std::fs::write(&own_file, own_cert.pem()).unwrap();
    let own_ca = own_file.display().to_string();
    let ran = ready_check(&["--ca-file", &own_ca, "--http", &self_url]);
    assert_eq!(ran.code, 0, "{}", ran.stdout);

    // `openssl req -x509` makes a self-signed certificate that says it is a
    // CA; Go and curl trust it when it is the CA file, and so do we, with
    // its name and dates still checked.
    let ca_leaf_addr = free_loopback_addr();
    let ca_leaf_ip = ca_leaf_addr.rsplit_once(':').unwrap().0.to_string();
    let (mut ca_leaf, _) = params(
        "req-x509",
        &[&ca_leaf_ip],
        (days_from_now(-1), days_from_now(30)),
    );
    ca_leaf.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_leaf_key = KeyPair::generate().unwrap();
    let ca_leaf_cert = ca_leaf.self_signed(&ca_leaf_key).unwrap();
    let ca_leaf_file = pki.dir.join("req-x509.crt");
    std::fs::write(&ca_leaf_file, ca_leaf_cert.pem()).unwrap();
    let ca_leaf_server = https_server(
        ca_leaf_addr,
        vec![ca_leaf_cert.der().clone()],
        PrivatePkcs8KeyDer::from(ca_leaf_key.serialize_der()).into(),
        Versions::Both,
        None,
        None,
    );
    let ca_leaf_url = format!("https://{}/", ca_leaf_server.addr);
    let ca_leaf_ca = ca_leaf_file.display().to_string();
    let ran = ready_check(&["--ca-file", &ca_leaf_ca, "--http", &ca_leaf_url]);
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    fails_with(
        &[
            "--ca-file",
            &ca_leaf_ca,
            "--server-name",
            "other.example",
            "--http",
            &ca_leaf_url,
        ],
        &format!("certificate for {ca_leaf_ip}, not other.example"),
    );
    fails_with(
        &["--ca-file", &ca, "--http", &ca_leaf_url],
        "certificate is a CA's, not a server's (give it with --ca-file to trust it as it is)",
    );

    // Expired and wrong-named pass with --insecure too (chain, dates and
    // name are what it skips).
    for url in [&wrong_url, &format!("https://{}/", old.addr)] {
        let ran = ready_check(&["--insecure", "--http", url]);
        assert_eq!(ran.code, 0, "{url}: {}", ran.stdout);
    }
}

#[test]
fn cert_valid_for_fails_while_the_certificate_expires_sooner() {
    let pki = Pki::new("tls-valid-for");
    let (server, leaf) = valid_server(&pki, "soon", Versions::Both);
    let url = format!("https://{}/", server.addr);
    let ca = pki.ca_file();
    let ran = ready_check(&["--ca-file", &ca, "--http", &url, "--cert-valid-for", "30d"]);
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    fails_with(
        &["--ca-file", &ca, "--http", &url, "--cert-valid-for", "100d"],
        &format!(
            "certificate expires at {}",
            common::civil::format_utc(leaf.not_after)
        ),
    );
    assert!(
        ready_check(&["--ca-file", &ca, "--http", &url, "--cert-valid-for", "100d"])
            .stdout
            .contains("sooner than --cert-valid-for 100d")
    );
    // Any TLS service: --tcp with --cert-valid-for is a handshake, verified.
    let addr = server.addr.clone();
    let ran = ready_check(&["--ca-file", &ca, "--tcp", &addr, "--cert-valid-for", "30d"]);
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    fails_with(
        &["--ca-file", &ca, "--tcp", &addr, "--cert-valid-for", "100d"],
        &format!("FAIL tls {addr}: certificate expires at"),
    );
    fails_with(
        &["--tcp", &addr, "--cert-valid-for", "1d"],
        "unknown issuer (give the CA with --ca-file",
    );
    // http:// to a TLS port: named, with the fix.
    fails_with(
        &["--http", &format!("http://{addr}/")],
        "answer: the server speaks TLS: use https://",
    );
}

/// A certificate already past its date, read with --insecure: "expired
/// at", not "in 0us".
#[test]
fn an_expired_certificate_says_expired_at() {
    let pki = Pki::new("tls-expired");
    let addr = free_loopback_addr();
    let ip = addr.rsplit_once(':').unwrap().0.to_string();
    let leaf = pki.leaf("expired", &[&ip], (days_from_now(-10), days_from_now(-1)));
    let server = serve_leaf(&pki, addr, leaf.der(), &leaf);
    let url = format!("https://{}/", server.addr);
    fails_with(
        &["--insecure", "--http", &url, "--cert-valid-for", "7d"],
        &format!(
            "certificate expired at {}",
            common::civil::format_utc(leaf.not_after)
        ),
    );
}

/// blackbox_exporter issue 1119: once a chain has expired, the probe
/// fails and blackbox drops probe_ssl_earliest_cert_expiry, so the
/// "expires soon" alert goes quiet exactly when it matters. latency-exporter
/// keeps the date of the refused chain, so `expiry - time() <= 0` fires.
#[test]
fn an_expired_chain_keeps_its_expiry_in_latency_exporter() {
    let pki = Pki::new("tls-expired-kept");
    let addr = free_loopback_addr();
    let ip = addr.rsplit_once(':').unwrap().0.to_string();
    let leaf = pki.leaf("expired", &[&ip], (days_from_now(-10), days_from_now(-1)));
    let server = serve_leaf(&pki, addr, leaf.der(), &leaf);
    let spec = format!("old=https://{}/", server.addr);
    let exporter = Daemon::listening(
        "latency-exporter",
        &[
            "--interval",
            "200ms",
            "--ca-file",
            &pki.ca_file(),
            "--target",
            &spec,
        ],
    );
    let key = "probe_ssl_earliest_cert_expiry{target=\"old\"}";
    let values = wait_for_sample(&exporter.addr, key, |_| true);
    assert_eq!(values[key], leaf.not_after as f64, "{values:?}");
    assert_eq!(values["probe_success{target=\"old\"}"], 0.0);
    // It failed on the expiry: no TLS answer, so no verified-chain series.
    assert!(
        !values.contains_key("probe_ssl_last_chain_expiry_timestamp_seconds{target=\"old\"}"),
        "{values:?}"
    );
}

/// A leaf our reader cannot read (its CN's type is no OID; webpki, which
/// does not look inside names, still takes it) beside an intermediate that
/// expires later: `--cert-valid-for` fails rather than passing on the
/// intermediate's date, and latency-exporter says no expiry at all.
#[test]
fn an_unreadable_leaf_fails_cert_valid_for_and_leaves_the_expiry_unsaid() {
    let pki = Pki::new("tls-unreadable");
    let addr = free_loopback_addr();
    let ip = addr.rsplit_once(':').unwrap().0.to_string();
    let marker = "unreadable-leaf";
    let leaf = pki.leaf(
        marker,
        &[marker, &ip],
        (days_from_now(-1), days_from_now(90)),
    );
    let mut der = leaf.der().to_vec();
    let cn_oid = [0x06, 0x03, 0x55, 0x04, 0x03];
    let at = der
        .windows(7 + marker.len())
        .position(|w| w[..5] == cn_oid && &w[7..] == marker.as_bytes())
        .expect("the leaf's CN");
    der[at] = 0x04; // an OCTET STRING of the same length: still DER
    let server = serve_leaf(&pki, addr, der.into(), &leaf);
    let url = format!("https://{}/", server.addr);
    // The intermediate alone would pass: it expires in 400 days.
    fails_with(
        &["--insecure", "--http", &url, "--cert-valid-for", "7d"],
        "certificate 1 of 2 the server sent (the leaf) cannot be read, so its expiry is unknown",
    );
    let ran = ready_check(&["--insecure", "--http", &url]);
    assert_eq!(ran.code, 0, "{}", ran.stdout);

    let spec = format!("leaf={url}");
    let exporter = Daemon::listening(
        "latency-exporter",
        &["--interval", "200ms", "--insecure", "--target", &spec],
    );
    let values = wait_for_sample(&exporter.addr, "probe_success{target=\"leaf\"}", |v| {
        v == 1.0
    });
    for name in [
        "probe_ssl_earliest_cert_expiry",
        "probe_ssl_last_chain_info",
    ] {
        assert!(
            !values.keys().any(|k| k.starts_with(name)),
            "{name} said something of a leaf it cannot read"
        );
    }
}

#[test]
fn tls_1_2_only_1_3_only_and_client_certificates() {
    let pki = Pki::new("tls-versions");
    let ca = pki.ca_file();
    for (versions, want, cipher) in [
        (Versions::Only12, "TLS 1.2", "TLS_ECDHE_ECDSA_WITH_"),
        (Versions::Only13, "TLS 1.3", "TLS_AES_"),
    ] {
        let (server, _) = valid_server(&pki, "v", versions);
        let url = format!("https://{}/", server.addr);
        let ran = ready_check(&["--ca-file", &ca, "--http", &url]);
        assert_eq!(ran.code, 0, "{want}: {}", ran.stdout);
        let exporter = Daemon::listening(
            "latency-exporter",
            &[
                "--interval",
                "100ms",
                "--ca-file",
                &ca,
                "--target",
                &format!("v={url}"),
            ],
        );
        let values = wait_for_sample(&exporter.addr, "probe_success{target=\"v\"}", |v| v == 1.0);
        assert_eq!(
            values.get(&format!(
                "probe_tls_version_info{{target=\"v\",version=\"{want}\"}}"
            )),
            Some(&1.0),
            "{values:?}"
        );
        assert!(
            values.keys().any(
                |k| k.starts_with("probe_tls_cipher_info{target=\"v\",cipher=\"")
                    && k.contains(cipher)
            ),
            "{want}: {values:?}"
        );
    }

    // mTLS: a server that requires a client certificate under the root.
    let addr = free_loopback_addr();
    let ip = addr.rsplit_once(':').unwrap().0.to_string();
    let leaf = pki.leaf("mtls", &[&ip], (days_from_now(-1), days_from_now(30)));
    let client = pki.leaf(
        "client",
        &["client.sidecars.test"],
        (days_from_now(-1), days_from_now(30)),
    );
    let server = https_server(
        addr.clone(),
        vec![leaf.der(), pki.intermediate.der()],
        leaf.key_der(),
        Versions::Both,
        Some(pki.root.der()),
        None,
    );
    let url = format!("https://{}/", server.addr);
    fails_with(
        &["--ca-file", &ca, "--http", &url],
        "the server requires a client certificate (give --cert and --key)",
    );
    let (cert, key) = (
        client.cert_file.display().to_string(),
        client.key_file.display().to_string(),
    );
    let ran = ready_check(&[
        "--ca-file",
        &ca,
        "--cert",
        &cert,
        "--key",
        &key,
        "--http",
        &url,
    ]);
    assert_eq!(ran.code, 0, "{} {}", ran.stdout, ran.stderr);
    // every calls it too, with the same flags.
    let ran = run(
        "every",
        &[
            "1h",
            "--count",
            "1",
            "--ca-file",
            &ca,
            "--cert",
            &cert,
            "--key",
            &key,
            &url,
        ],
    );
    assert_eq!(ran.code, 0, "every: {} {}", ran.stdout, ran.stderr);
}

#[test]
fn a_rotated_ca_file_is_read_again_without_a_restart() {
    let old = Pki::new("tls-rotate-old");
    let new = Pki::new("tls-rotate-new");
    let (server, _) = valid_server(&new, "rotated", Versions::Both);
    let ca = tempdir("tls-rotate").join("ca.crt");
    std::fs::copy(&old.root.cert_file, &ca).unwrap();
    let url = format!("https://{}/", server.addr);
    let ca_text = ca.display().to_string();
    let mut exporter = Daemon::listening(
        "latency-exporter",
        &[
            "--interval",
            "100ms",
            "--ca-file",
            &ca_text,
            "--target",
            &format!("r={url}"),
        ],
    );
    let line = exporter.wait_log("target=r ");
    assert!(line.contains("unknown issuer"), "{line}");
    // As a Secret's update lands: a new file renamed over the old.
    let staged = ca.with_extension("new");
    std::fs::copy(&new.root.cert_file, &staged).unwrap();
    std::fs::rename(&staged, &ca).unwrap();
    wait_for_sample(&exporter.addr, "probe_success{target=\"r\"}", |v| v == 1.0);
}

#[test]
fn an_https_to_http_redirect_fails_the_not_ssl_condition() {
    let pki = Pki::new("tls-redirect");
    let plain = Daemon::start("stand-in", &["--listen", "127.0.0.1:0"]);
    let to = format!("http://{}/known-value", plain.addr);
    let addr = free_loopback_addr();
    let ip = addr.rsplit_once(':').unwrap().0.to_string();
    let leaf = pki.leaf("redirect", &[&ip], (days_from_now(-1), days_from_now(30)));
    let server = https_server(
        addr.clone(),
        vec![leaf.der(), pki.intermediate.der()],
        leaf.key_der(),
        Versions::Both,
        None,
        Some(to),
    );
    let url = format!("https://{}/", server.addr);
    let ca = pki.ca_file();
    let exporter = Daemon::listening(
        "latency-exporter",
        &[
            "--interval",
            "100ms",
            "--follow-redirects",
            "--ca-file",
            &ca,
            "--target",
            &format!("strict={url}"),
            "--fail-if-not-ssl",
            "--target",
            &format!("lax={url}"),
        ],
    );
    let values = wait_for_sample(&exporter.addr, "probe_success{target=\"lax\"}", |v| {
        v == 1.0
    });
    let values = if values.contains_key("probe_success{target=\"strict\"}") {
        values
    } else {
        wait_for_sample(&exporter.addr, "probe_success{target=\"strict\"}", |_| true)
    };
    for target in ["strict", "lax"] {
        assert_eq!(
            values[&format!("probe_http_ssl{{target=\"{target}\"}}")],
            0.0
        );
        assert_eq!(
            values[&format!("probe_http_redirects{{target=\"{target}\"}}")],
            1.0
        );
        // The final answer was not over TLS: no certificate series.
        assert!(!values.contains_key(&format!(
            "probe_ssl_earliest_cert_expiry{{target=\"{target}\"}}"
        )));
    }
    assert_eq!(values["probe_success{target=\"strict\"}"], 0.0);
    assert_eq!(
        values["probe_failed_due_to_condition{target=\"strict\"}"],
        1.0
    );
}

/// Hostile peers: each is probe_success 0 with its own line, within the
/// timeout, and the exporter goes on answering.
#[test]
fn hostile_tls_peers_fail_with_their_own_reason_within_the_timeout() {
    // Accepts and never answers the ClientHello.
    let silent = listen(|mut socket| {
        let _ = socket.set_read_timeout(Some(Duration::from_secs(5)));
        let mut sink = [0u8; 4096];
        while matches!(socket.read(&mut sink), Ok(n) if n > 0) {}
    });
    // Garbage where a ServerHello goes.
    let garbage = listen(|mut socket| {
        let _ = socket.read(&mut [0u8; 4096]);
        let _ = socket.write_all(&[0x5a; 512]);
    });
    // A handshake message announcing a 1 MiB certificate chain, and sent.
    let huge = listen(|mut socket| {
        let _ = socket.read(&mut [0u8; 4096]);
        let mut bytes = Vec::new();
        let mut message = vec![11u8, 0x10, 0x00, 0x00];
        message.resize(4 + (1 << 20), 0x30);
        for record in message.chunks(16 * 1024) {
            bytes.extend_from_slice(&[22, 3, 3, (record.len() >> 8) as u8, record.len() as u8]);
            bytes.extend_from_slice(record);
        }
        let _ = socket.write_all(&bytes);
    });
    // The start of a ServerHello, then the connection closed.
    let closing = listen(|mut socket| {
        let _ = socket.read(&mut [0u8; 4096]);
        let _ = socket.write_all(&[22, 3, 3, 0, 80, 2, 0, 0, 76, 3, 3, 1, 2, 3]);
    });
    // Plain HTTP on an https URL.
    let plain = listen(|mut socket| {
        let _ = socket.read(&mut [0u8; 4096]);
        let _ = socket.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    });
    let peers = [
        ("silent", &silent, "handshake timed out after 1s"),
        ("garbage", &garbage, "the server's answer is not TLS"),
        ("huge", &huge, "larger than TLS allows"),
        (
            "closing",
            &closing,
            "closed the connection during the TLS handshake",
        ),
        (
            "plain",
            &plain,
            "the server answered in plain HTTP, not TLS (use http://)",
        ),
    ];
    for (name, server, reason) in &peers {
        let started = Instant::now();
        fails_with(
            &[
                "--timeout",
                "1s",
                "--http",
                &format!("https://{}/", server.addr),
            ],
            reason,
        );
        assert!(started.elapsed() < Duration::from_millis(2500), "{name}");
    }
    let mut args = vec![
        "--interval".to_string(),
        "300ms".into(),
        "--timeout".into(),
        "1s".into(),
    ];
    for (name, server, _) in &peers {
        args.extend([
            "--target".into(),
            format!("{name}=https://{}/", server.addr),
        ]);
        args.extend([
            "--target".into(),
            format!("{name}-tls=tls://{}", server.addr),
        ]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut exporter = Daemon::listening("latency-exporter", &args);
    for (name, _, reason) in &peers {
        for target in [name.to_string(), format!("{name}-tls")] {
            let line = exporter.wait_log(&format!("target={target} "));
            assert!(line.contains(reason), "{target}: {line}");
        }
    }
    let (_, values) = scrape_checked(&exporter.addr);
    for (name, _, _) in &peers {
        assert_eq!(values[&format!("probe_success{{target=\"{name}\"}}")], 0.0);
        assert_eq!(
            values[&format!("probe_success{{target=\"{name}-tls\"}}")],
            0.0
        );
        // Each probe ended within its 1 s timeout (plus scheduling).
        let took = values[&format!("probe_duration_seconds{{target=\"{name}\"}}")];
        assert!(took < 1.5, "{name}: {took}");
    }
    assert_eq!(get(&exporter.addr, "/healthz").0, 200);
}

/// TLS 1.0 only, from OpenSSL's own server at security level 0.
#[test]
fn a_tls_1_0_only_server_is_named_as_such() {
    if !sidecars_tests::installed("openssl", "version") {
        return sidecars_tests::skip(
            "a_tls_1_0_only_server_is_named_as_such",
            "openssl is not installed",
        );
    }
    let pki = Pki::new("tls-1-0");
    let addr = free_loopback_addr();
    let ip = addr.rsplit_once(':').unwrap().0.to_string();
    let leaf = pki.leaf("old", &[&ip], (days_from_now(-1), days_from_now(30)));
    let mut command = std::process::Command::new("openssl");
    command.args([
        "s_server",
        "-quiet",
        "-www",
        "-tls1",
        "-cipher",
        "DEFAULT@SECLEVEL=0",
        "-accept",
        &addr,
        "-cert",
        &leaf.cert_file.display().to_string(),
        "-key",
        &leaf.key_file.display().to_string(),
    ]);
    let _server = Daemon::start_command(&mut command, false);
    sidecars_tests::wait_until(
        "openssl s_server to listen",
        Duration::from_secs(10),
        || TcpStream::connect(&addr).is_ok(),
    );
    fails_with(
        &[
            "--ca-file",
            &pki.ca_file(),
            "--http",
            &format!("https://{addr}/"),
        ],
        "server offered only TLS 1.0",
    );
}

/// Debian's blackbox exporter (0.23), `http_2xx` with `tls_config.ca_file`,
/// against the same server: each TLS series and label set it emits is in
/// ours, with the same values.
#[test]
fn blackbox_tls_series_are_ours_with_the_same_values() {
    let pki = Pki::new("tls-blackbox");
    let (server, leaf) = valid_server(&pki, "app", Versions::Both);
    // Unusual but valid: a 20-byte serial, an expiry in 2055 (GeneralizedTime)
    // after its intermediate's, a subject of escapes and two attributes, a
    // P-384 key and 300 names.
    let addr = free_loopback_addr();
    let ip = addr.rsplit_once(':').unwrap().0.to_string();
    let mut names: Vec<String> = (0..299).map(|i| format!("n{i}.sidecars.test")).collect();
    names.push(ip);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let (mut params, _) = params(" a,b+c\"d<e>;#", &names, (days_from_now(-1), 2_700_000_000));
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x7f; 20]));
    params
        .distinguished_name
        .push(DnType::OrganizationalUnitName, "unit=one");
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let cert = params
        .signed_by(&key, &pki.intermediate.cert, &pki.intermediate.key)
        .unwrap();
    let unusual = save(
        &pki.dir,
        "unusual",
        cert,
        key,
        2_700_000_000,
        &[&pki.intermediate],
    );
    let unusual_server = serve_leaf(&pki, addr, unusual.der(), &unusual);
    let Some(_) = compare_with_blackbox(&pki, &server, leaf.not_after) else {
        return sidecars_tests::skip(
            "blackbox_tls_series_are_ours_with_the_same_values",
            "prometheus-blackbox-exporter is not installed (scripts/setup installs it)",
        );
    };
    compare_with_blackbox(&pki, &unusual_server, unusual.not_after);
    // Names rcgen cannot write, signed by openssl with the intermediate's
    // key: two OUs and a multi-valued RDN; an empty subject with only SANs.
    for (name, subject) in [("multi", "/CN=x+O=y/OU=a/OU=b"), ("empty", "/")] {
        let addr = free_loopback_addr();
        let ip = addr.rsplit_once(':').unwrap().0.to_string();
        let (der, key) = openssl_leaf(&pki, name, subject, &ip);
        let not_after = net::x509::parse(&der)
            .expect("our reader reads it")
            .not_after;
        let server = https_server(
            addr,
            vec![der.into(), pki.intermediate.der()],
            key,
            Versions::Both,
            None,
            None,
        );
        compare_with_blackbox(&pki, &server, not_after);
    }
}

/// A leaf for `ip` with `subject` as openssl writes it (`-multivalue-rdn`),
/// signed by the PKI's intermediate: its DER and its key.
fn openssl_leaf(
    pki: &Pki,
    name: &str,
    subject: &str,
    ip: &str,
) -> (Vec<u8>, PrivateKeyDer<'static>) {
    let key = KeyPair::generate().unwrap();
    let key_file = pki.dir.join(format!("{name}-openssl.key"));
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let (csr, der, ext) = (
        pki.dir.join(format!("{name}.csr")),
        pki.dir.join(format!("{name}.der")),
        pki.dir.join(format!("{name}.ext")),
    );
    std::fs::write(
        &ext,
        format!("subjectAltName=IP:{ip},DNS:{name}.sidecars.test\n"),
    )
    .unwrap();
    let path = |p: &PathBuf| p.to_str().unwrap().to_string();
    sidecars_tests::output_ok(std::process::Command::new("openssl").args([
        "req",
        "-new",
        "-multivalue-rdn",
        "-subj",
        subject,
        "-key",
        &path(&key_file),
        "-out",
        &path(&csr),
    ]));
    sidecars_tests::output_ok(std::process::Command::new("openssl").args([
        "x509",
        "-req",
        "-days",
        "30",
        "-in",
        &path(&csr),
        "-CA",
        &path(&pki.intermediate.cert_file),
        "-CAkey",
        &path(&pki.intermediate.key_file),
        "-extfile",
        &path(&ext),
        "-outform",
        "DER",
        "-out",
        &path(&der),
    ]));
    let der = std::fs::read(&der).unwrap();
    (der, PrivatePkcs8KeyDer::from(key.serialize_der()).into())
}

/// The TLS series of blackbox and of latency-exporter for `server`, whose
/// leaf is `leaf`: each of blackbox's, with its labels, is ours with the
/// same value. None when blackbox is not installed.
fn compare_with_blackbox(pki: &Pki, server: &Server, leaf_not_after: i64) -> Option<()> {
    let url = format!("https://{}/", server.addr);
    let config = pki.dir.join("blackbox.yml");
    std::fs::write(
        &config,
        format!(
            "modules:\n  http_2xx:\n    prober: http\n    http:\n      preferred_ip_protocol: ip4\n      tls_config:\n        ca_file: {}\n",
            pki.ca_file()
        ),
    )
    .unwrap();
    let (_bb, listen_at) = sidecars_tests::start_blackbox(&config)?;
    let exporter = Daemon::listening(
        "latency-exporter",
        &[
            "--interval",
            "100ms",
            "--ca-file",
            &pki.ca_file(),
            "--target",
            &format!("app={url}"),
        ],
    );
    let ours = wait_for_sample(&exporter.addr, "probe_success{target=\"app\"}", |v| {
        v == 1.0
    });
    let (status, body) = get(&listen_at, &format!("/probe?module=http_2xx&target={url}"));
    assert_eq!(status, 200, "{body}");
    let theirs = sidecars_tests::prom::samples(&body);
    assert_eq!(theirs["probe_success"], 1.0, "{body}");
    let tls_series: BTreeMap<&String, &f64> = theirs
        .iter()
        .filter(|(k, _)| {
            k.starts_with("probe_ssl")
                || k.starts_with("probe_tls")
                || k.starts_with("probe_http_ssl")
        })
        .collect();
    for name in [
        "probe_ssl_earliest_cert_expiry",
        "probe_ssl_last_chain_expiry_timestamp_seconds",
        "probe_http_ssl",
    ] {
        assert!(
            tls_series.contains_key(&name.to_string()),
            "blackbox lacks {name}: {body}"
        );
    }
    // The leaf's labels, read whole: a chunked body once split this line.
    assert!(
        tls_series
            .keys()
            .any(|k| k.starts_with("probe_ssl_last_chain_info{")),
        "blackbox lacks probe_ssl_last_chain_info: {body}"
    );
    for (key, value) in &tls_series {
        // Ours carries the target label first, and may carry more labels
        // (serialnumber): each of theirs must be there with its value.
        let (name, labels) = key.split_once('{').unwrap_or((key, "}"));
        let labels: Vec<&str> = labels
            .trim_end_matches('}')
            .split("\",")
            .filter(|l| !l.is_empty())
            .map(|l| l.trim_end_matches('"'))
            .collect();
        let found = ours.iter().find(|(k, _)| {
            k.starts_with(&format!("{name}{{target=\"app\""))
                && labels.iter().all(|l| k.contains(&format!("{l}\"")))
        });
        let Some((our_key, our_value)) = found else {
            panic!("blackbox has {key}, latency-exporter lacks it:\n{ours:?}");
        };
        assert_eq!(our_value, *value, "{key} vs {our_key}");
    }
    // The values are the certificates' own: the leaf and the intermediate
    // were sent (the earlier of the two, whichever it is); the verified
    // chain adds the root.
    assert_eq!(
        ours["probe_ssl_earliest_cert_expiry{target=\"app\"}"],
        leaf_not_after.min(pki.intermediate.not_after) as f64
    );
    assert_eq!(
        ours["probe_ssl_last_chain_expiry_timestamp_seconds{target=\"app\"}"],
        leaf_not_after
            .min(pki.intermediate.not_after)
            .min(pki.root.not_after) as f64
    );
    Some(())
}

/// The scratch image holds no CA bundle: with nothing mounted and no
/// SSL_CERT_* set, its binaries verify against the roots built into them
/// (an unknown issuer, not a missing file), and a CA mounted and named by
/// SSL_CERT_FILE replaces them.
#[test]
fn the_image_verifies_with_no_ca_bundle_and_takes_a_ca_from_ssl_cert_file() {
    use sidecars_tests::docker::{docker, sidecars_image, unavailable};
    if let Some(why) = unavailable() {
        return sidecars_tests::skip(
            "the_image_verifies_with_no_ca_bundle_and_takes_a_ca_from_ssl_cert_file",
            &why,
        );
    }
    let image = sidecars_image();
    let pki = Pki::new("tls-image");
    let (server, _) = valid_server(&pki, "image", Versions::Both);
    let url = format!("https://{}/", server.addr);
    let in_image = |extra: &[&str]| {
        let mut args = vec!["run", "--rm", "--network", "host"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[&image, "ready-check", "--timeout", "5s", "--http", &url]);
        let out = docker(&args);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = in_image(&[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("unknown issuer (give the CA with --ca-file"),
        "{out}"
    );
    let mount = format!("{}:/ca/root.pem:ro", pki.ca_file());
    let (code, out) = in_image(&["-v", &mount, "-e", "SSL_CERT_FILE=/ca/root.pem"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out, format!("ok {url}\n"));
}
