//! TLS for the one HTTP client (and latency-exporter's `tls://` probes):
//! rustls with ring, TLS 1.2 and 1.3, verification on by default.
//!
//! Roots, in order: `--ca-file`; else `SSL_CERT_FILE` and `SSL_CERT_DIR` when
//! either is set (as Go, curl and OpenSSL read them); else the Mozilla roots
//! built in (webpki-roots), so that the scratch image, which has no CA
//! bundle, reaches public names. The CA, certificate and key files are read
//! again when they change (a rotated Secret needs no restart).
//!
//! Every handshake failure is one line of its own, and the handshake is
//! bounded by the exchange's deadline. What the handshake saw (version,
//! cipher, certificates, the verified chain's earliest expiry) comes back
//! for the blackbox series and for `--cert-valid-for`.

use crate::x509;
use common::cli::{self, usage, Stop};
use common::flag::Flag;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::io::{ErrorKind, Read};

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The flags' help, the same in every program that speaks HTTPS; a macro
/// so that each program's help text stays one literal.
#[macro_export]
macro_rules! tls_help {
    () => {
        "\
TLS (https:// URLs; verification is on, against the Mozilla roots built in,
or SSL_CERT_FILE / SSL_CERT_DIR when set):
  --ca-file PATH       trust only the CA certificates in PATH (PEM), e.g. a
                       cluster CA
  --insecure           skip chain and name verification (the handshake's
                       signatures are still checked), as the kubelet's HTTPS
                       probe does
  --server-name NAME   send NAME as SNI and verify the certificate for it
  --cert FILE --key FILE
                       present this client certificate and key (PEM; mTLS)
  The CA, certificate and key files are read again when they change.
"
    };
}

/// The TLS flags, as given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsOptions {
    pub ca_file: Option<PathBuf>,
    pub insecure: bool,
    pub server_name: Option<String>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// The flags [`TlsOptions::parse_flag`] takes. The sample files are
/// relative to a side-car's crate, where cargo runs its unit tests.
pub const FLAGS: &[Flag] = &[
    Flag::new("ca-file", &[SAMPLE_CERT]),
    Flag::switch("insecure"),
    Flag::new("server-name", &["app.internal"]),
    Flag::new("cert", &[SAMPLE_CERT, "--key", SAMPLE_KEY]),
    Flag::new("key", &[SAMPLE_KEY, "--cert", SAMPLE_CERT]),
];
/// Their spellings, for the parser's guards.
pub const SPELLED: [common::flag::Spelling; common::flag::count(&[FLAGS])] =
    common::flag::spelled(&[FLAGS]);
const SAMPLE_CERT: &str = "../../net/src/testdata/flag-sample.pem";
const SAMPLE_KEY: &str = "../../net/src/testdata/flag-sample.key";

impl TlsOptions {
    /// Takes `flag` if it is a TLS flag: Ok(false) when it is not one.
    pub fn parse_flag(&mut self, flag: &str, parser: &mut lexopt::Parser) -> Result<bool, Stop> {
        match flag {
            "ca-file" => self.ca_file = Some(parser.value()?.into()),
            "insecure" => self.insecure = true,
            "server-name" => {
                let name = cli::text(parser, "--server-name")?;
                ServerName::try_from(name.clone())
                    .map_err(|_| usage("--server-name", format!("'{name}' is not a host name")))?;
                self.server_name = Some(name);
            }
            "cert" => self.cert = Some(parser.value()?.into()),
            "key" => self.key = Some(parser.value()?.into()),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// At start-up: the files are there and hold what they should, so a
    /// typo is a usage error and not a probe failing forever.
    pub fn check(&self) -> Result<(), Stop> {
        match (&self.cert, &self.key) {
            (Some(_), None) => return Err(usage("--cert", "needs --key FILE")),
            (None, Some(_)) => return Err(usage("--key", "needs --cert FILE")),
            _ => {}
        }
        if self.ca_file.is_some() && self.insecure {
            return Err(usage(
                "--insecure",
                "verifies nothing, so --ca-file means nothing with it",
            ));
        }
        // Only files the flags name: SSL_CERT_* and the built-in roots
        // are read at the first https:// exchange, so that a plain-HTTP
        // exec probe starts as fast as it did before TLS.
        if self.ca_file.is_none() && self.cert.is_none() {
            return Ok(());
        }
        Loaded::load(self)
            .map(drop)
            .map_err(|e| Stop::Usage(e.to_string()))
    }
}

/// Why TLS failed: its files at start-up, or a handshake. The kind is for
/// the code; `Display` is the one line a user reads.
#[derive(Debug, Clone, PartialEq)]
pub enum TlsError {
    /// `what` is the flag or variable that named `path`.
    Unreadable {
        what: &'static str,
        path: PathBuf,
        why: common::file::FileError,
    },
    NoCertificate {
        what: &'static str,
        path: PathBuf,
    },
    NoKey(PathBuf),
    UnusableCa(String),
    CertAndKey(String),
    BadServerName(String),
    /// rustls refused the configuration.
    Rustls(String),
    TimedOut(Duration),
    Reset,
    Io(ErrorKind, String),
    ClosedBeforeHandshake,
    ClosedDuringHandshake,
    /// The handshake failed: what the server or the verifier said, and what
    /// to do about it, as one line. `sent_expiry`: when the verifier refused
    /// the server's certificates, the smallest NotAfter over those it sent,
    /// so that an expired chain still has its date (blackbox_exporter drops
    /// it then: its issue 1119).
    Refused {
        line: String,
        sent_expiry: Option<i64>,
    },
    /// A TLS error after the handshake, as one line.
    AfterHandshake(String),
}

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsError::Unreadable { what, path, why } => {
                write!(f, "{what} {}: {why}", path.display())
            }
            TlsError::NoCertificate { what, path } => {
                write!(f, "{what} {}: no PEM certificate in it", path.display())
            }
            TlsError::NoKey(path) => {
                write!(f, "--key {}: no PEM private key in it", path.display())
            }
            TlsError::UnusableCa(why) => write!(f, "a CA certificate cannot be used: {why}"),
            TlsError::CertAndKey(why) => {
                write!(f, "--cert and --key cannot be used together: {why}")
            }
            TlsError::BadServerName(name) => write!(f, "'{name}' is not a valid TLS server name"),
            TlsError::Rustls(why)
            | TlsError::Refused { line: why, .. }
            | TlsError::AfterHandshake(why) => f.write_str(why),
            TlsError::TimedOut(after) => write!(
                f,
                "handshake timed out after {}",
                common::duration::format(*after)
            ),
            TlsError::Reset => f.write_str("connection reset during the TLS handshake"),
            TlsError::Io(_, why) => write!(f, "TLS handshake: {why}"),
            TlsError::ClosedBeforeHandshake => {
                f.write_str("the server closed the connection instead of a TLS handshake")
            }
            TlsError::ClosedDuringHandshake => {
                f.write_str("the server closed the connection during the TLS handshake")
            }
        }
    }
}

impl std::error::Error for TlsError {}

impl TlsError {
    /// The smallest NotAfter of the certificates a refused server sent.
    pub fn sent_expiry(&self) -> Option<i64> {
        match self {
            TlsError::Refused { sent_expiry, .. } => *sent_expiry,
            _ => None,
        }
    }
}

/// What a handshake saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsInfo {
    /// `TLS 1.2` or `TLS 1.3`.
    pub version: &'static str,
    /// Go's name of the cipher suite, e.g. `TLS_AES_128_GCM_SHA256`.
    pub cipher: String,
    /// The smallest NotAfter over every certificate the server sent; None
    /// when one of them cannot be read.
    pub earliest_expiry: Option<i64>,
    /// Why `earliest_expiry` is None though certificates came: one line.
    pub unreadable: Option<String>,
    /// The smallest NotAfter over the verified chain, the anchor included
    /// when its certificate is known (a --ca-file or SSL_CERT_* root; the
    /// built-in roots carry no dates). None with --insecure.
    pub chain_expiry: Option<i64>,
    /// The leaf, for `probe_ssl_last_chain_info`.
    pub leaf: Option<Leaf>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Leaf {
    pub fingerprint_sha256: String,
    pub subject: String,
    pub issuer: String,
    /// The DNS names, comma-separated, as blackbox's `subjectalternative`.
    pub dns_names: String,
    pub serial: String,
}

/// A TLS connection over a connected socket.
pub type TlsStream = rustls::StreamOwned<ClientConnection, TcpStream>;

/// The TLS settings of one program, and the configuration built from them,
/// built again when a file changes.
pub struct Tls {
    options: TlsOptions,
    loaded: Mutex<Option<Loaded>>,
}

#[derive(Clone)]
struct Loaded {
    stamps: Vec<Option<Stamp>>,
    config: Arc<ClientConfig>,
    roots: Arc<RootCertStore>,
    /// The root certificates given as files, to date a chain's anchor.
    root_certificates: Arc<Vec<x509::Certificate>>,
}

/// A file's identity and version: device, inode, size, mtime.
type Stamp = (u64, u64, u64, i64, i64);

/// A CA bundle, certificate or key file larger than this is refused.
const MAX_PEM: u64 = 4 << 20;

fn stamp(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some((
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec(),
    ))
}

fn read_pem(path: &Path, what: &'static str) -> Result<Vec<u8>, TlsError> {
    common::file::read_regular(path, MAX_PEM).map_err(|why| TlsError::Unreadable {
        what,
        path: path.to_path_buf(),
        why,
    })
}

fn certificates_in(bytes: &[u8]) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(bytes)
        .filter_map(Result::ok)
        .collect()
}

impl Loaded {
    /// The files this configuration was read from.
    fn files(options: &TlsOptions) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = [&options.ca_file, &options.cert, &options.key]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        if options.ca_file.is_none() && !options.insecure {
            files.extend(std::env::var_os("SSL_CERT_FILE").map(PathBuf::from));
            files.extend(std::env::var_os("SSL_CERT_DIR").map(PathBuf::from));
        }
        files
    }

    fn load(options: &TlsOptions) -> Result<Loaded, TlsError> {
        let stamps = Loaded::files(options).iter().map(|f| stamp(f)).collect();
        let given = |bytes: Vec<u8>, what: &'static str, path: &Path| {
            let found = certificates_in(&bytes);
            match found.is_empty() {
                true => Err(TlsError::NoCertificate {
                    what,
                    path: path.to_path_buf(),
                }),
                false => Ok(found),
            }
        };
        let mut root_ders = Vec::new();
        let env_file = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from);
        let env_dir = std::env::var_os("SSL_CERT_DIR").map(PathBuf::from);
        let mut roots = RootCertStore::empty();
        if options.insecure {
            // Nothing is verified against roots: none are read.
        } else if let Some(path) = &options.ca_file {
            root_ders = given(read_pem(path, "--ca-file")?, "--ca-file", path)?;
        } else if env_file.is_some() || env_dir.is_some() {
            if let Some(path) = &env_file {
                root_ders = given(read_pem(path, "SSL_CERT_FILE")?, "SSL_CERT_FILE", path)?;
            }
            if let Some(dir) = &env_dir {
                // As Go: every file of the directory, those without a
                // certificate skipped.
                let entries = std::fs::read_dir(dir).map_err(|e| TlsError::Unreadable {
                    what: "SSL_CERT_DIR",
                    path: dir.clone(),
                    why: e.into(),
                })?;
                for entry in entries.flatten().take(10_000) {
                    if let Ok(bytes) = read_pem(&entry.path(), "SSL_CERT_DIR") {
                        root_ders.extend(certificates_in(&bytes));
                    }
                }
                if root_ders.is_empty() {
                    return Err(TlsError::NoCertificate {
                        what: "SSL_CERT_DIR",
                        path: dir.clone(),
                    });
                }
            }
        } else {
            roots = built_in_roots();
        }
        for der in &root_ders {
            roots
                .add(der.clone())
                .map_err(|e| TlsError::UnusableCa(e.to_string()))?;
        }
        let provider = Arc::new(provider::without_chacha20());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsError::Rustls(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Verifier::new(
                Arc::new(RootCertStore::empty()),
                Arc::default(),
                false,
            )));
        let mut config = match (&options.cert, &options.key) {
            (Some(cert), Some(key)) => {
                let chain = given(read_pem(cert, "--cert")?, "--cert", cert)?;
                let key = PrivateKeyDer::from_pem_slice(&read_pem(key, "--key")?)
                    .map_err(|_| TlsError::NoKey(key.clone()))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| TlsError::CertAndKey(e.to_string()))?
            }
            _ => builder.with_no_client_auth(),
        };
        // Every probe makes a full handshake: a resumed one shows no
        // certificate and would time less than a new client sees.
        config.resumption = rustls::client::Resumption::disabled();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Loaded {
            stamps,
            config: Arc::new(config),
            roots: Arc::new(roots),
            root_certificates: Arc::new(root_ders.iter().filter_map(|d| x509::parse(d)).collect()),
        })
    }
}

/// The Mozilla roots compiled into every binary (webpki-roots): the
/// scratch image has no CA bundle.
fn built_in_roots() -> RootCertStore {
    RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

impl Tls {
    pub fn new(options: TlsOptions) -> Tls {
        Tls {
            options,
            loaded: Mutex::new(None),
        }
    }

    /// The configuration, read again when a file changed; loaded on first
    /// use, so that a program that never speaks HTTPS never pays for it.
    fn current(&self) -> Result<Loaded, TlsError> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        let stamps: Vec<_> = Loaded::files(&self.options)
            .iter()
            .map(|f| stamp(f))
            .collect();
        match &*loaded {
            Some(current) if current.stamps == stamps => Ok(current.clone()),
            _ => {
                // A file half-written by a rotation may not parse: keep the
                // last good configuration until it does.
                match (Loaded::load(&self.options), &*loaded) {
                    (Ok(fresh), _) => {
                        *loaded = Some(fresh.clone());
                        Ok(fresh)
                    }
                    (Err(_), Some(current)) => Ok(current.clone()),
                    (Err(error), None) => Err(error),
                }
            }
        }
    }

    /// The TLS handshake on a connected socket, within `deadline`.
    /// `host` is the URL's host; `--server-name` replaces it.
    pub fn handshake(
        &self,
        socket: TcpStream,
        host: &str,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<(TlsStream, TlsInfo), TlsError> {
        let loaded = self.current()?;
        let name_text = self.options.server_name.as_deref().unwrap_or(host);
        let name = ServerName::try_from(name_text.to_string())
            .map_err(|_| TlsError::BadServerName(name_text.to_string()))?;
        let verifier = Arc::new(Verifier::new(
            loaded.roots.clone(),
            loaded.root_certificates.clone(),
            self.options.insecure,
        ));
        let mut config = (*loaded.config).clone();
        config
            .dangerous()
            .set_certificate_verifier(verifier.clone());
        let mut connection = ClientConnection::new(Arc::new(config), name)
            .map_err(|e| TlsError::Rustls(e.to_string()))?;
        let mut socket = socket;
        let peer = socket.peer_addr().ok();
        let mut first = FirstBytes::default();
        let timed_out = || TlsError::TimedOut(timeout);
        let io_failure = |e: std::io::Error| match e.kind() {
            ErrorKind::TimedOut | ErrorKind::WouldBlock => timed_out(),
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe => {
                TlsError::Reset
            }
            kind => TlsError::Io(kind, e.to_string()),
        };
        while connection.is_handshaking() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(timed_out());
            }
            if connection.wants_write() {
                socket.set_write_timeout(Some(left)).map_err(io_failure)?;
                connection.write_tls(&mut socket).map_err(io_failure)?;
                continue;
            }
            socket.set_read_timeout(Some(left)).map_err(io_failure)?;
            let read = connection.read_tls(&mut Recording {
                inner: &mut socket,
                first: &mut first,
            });
            match read {
                Ok(0) => {
                    let error = connection.process_new_packets().err();
                    return Err(match error {
                        Some(error) => TlsError::Refused {
                            line: describe(&error, &first.bytes, &verifier, peer, deadline),
                            sent_expiry: verifier.seen().sent_expiry,
                        },
                        None if first.bytes.is_empty() => TlsError::ClosedBeforeHandshake,
                        None => TlsError::ClosedDuringHandshake,
                    });
                }
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_failure(e)),
            }
            if let Err(error) = connection.process_new_packets() {
                // Send our alert, if any, as a polite client does; errors
                // there change nothing.
                let _ = connection.write_tls(&mut socket);
                return Err(TlsError::Refused {
                    line: describe(&error, &first.bytes, &verifier, peer, deadline),
                    sent_expiry: verifier.seen().sent_expiry,
                });
            }
        }
        let info = handshake_info(&connection, &verifier);
        Ok((rustls::StreamOwned::new(connection, socket), info))
    }
}

/// The first bytes the server sent, to name what it offered when the
/// handshake fails (a ServerHello's version, or plain HTTP).
#[derive(Default)]
struct FirstBytes {
    bytes: Vec<u8>,
}

struct Recording<'a> {
    inner: &'a mut TcpStream,
    first: &'a mut FirstBytes,
}

impl Read for Recording<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let room = 16usize.saturating_sub(self.first.bytes.len());
        self.first.bytes.extend_from_slice(&buf[..n.min(room)]);
        Ok(n)
    }
}

fn handshake_info(connection: &ClientConnection, verifier: &Verifier) -> TlsInfo {
    let version = match connection.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3",
        _ => "TLS 1.2",
    };
    let cipher = connection
        .negotiated_cipher_suite()
        .map(|suite| go_cipher_name(suite.suite()))
        .unwrap_or_default();
    let certificates = connection.peer_certificates().unwrap_or_default();
    let (earliest_expiry, unreadable) = earliest_expiry(certificates);
    let leaf = certificates.first().and_then(|der| {
        let leaf = x509::parse(der)?;
        Some(Leaf {
            fingerprint_sha256: x509::fingerprint_sha256(der),
            subject: leaf.subject,
            issuer: leaf.issuer,
            dns_names: leaf.dns_names.join(","),
            serial: leaf.serial,
        })
    });
    TlsInfo {
        version,
        cipher,
        earliest_expiry,
        unreadable,
        chain_expiry: verifier.seen().chain_expiry,
        leaf,
    }
}

/// The smallest NotAfter over `certificates`, or, when one cannot be read,
/// no expiry and which one: an unread certificate might be the one that
/// expires first, so nothing is said rather than something wrong.
fn earliest_expiry(certificates: &[CertificateDer<'_>]) -> (Option<i64>, Option<String>) {
    let mut earliest: Option<i64> = None;
    for (at, der) in certificates.iter().enumerate() {
        let Some(certificate) = x509::parse(der) else {
            let which = if at == 0 { " (the leaf)" } else { "" };
            let line = format!(
                "certificate {} of {} the server sent{which} cannot be read, so its expiry is unknown",
                at + 1,
                certificates.len()
            );
            return (None, Some(line));
        };
        earliest = Some(earliest.map_or(certificate.not_after, |e| e.min(certificate.not_after)));
    }
    (earliest, None)
}

/// Go's name of a cipher suite (crypto/tls `CipherSuiteName`).
pub fn go_cipher_name(suite: rustls::CipherSuite) -> String {
    let name = format!("{suite:?}");
    match name.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => name,
    }
}

/// One line for a failed handshake.
fn describe(
    error: &rustls::Error,
    first: &[u8],
    verifier: &Verifier,
    peer: Option<std::net::SocketAddr>,
    deadline: Instant,
) -> String {
    use rustls::{AlertDescription, Error, InvalidMessage, PeerIncompatible};
    if let Some(failure) = verifier.seen().failure {
        return failure;
    }
    let offered = || offered_version(first).or_else(|| legacy_version(peer?, deadline));
    match error {
        Error::PeerIncompatible(PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig)
        | Error::AlertReceived(AlertDescription::ProtocolVersion)
        | Error::PeerIncompatible(PeerIncompatible::Tls12NotOffered) => match offered() {
            Some(version) => format!("server offered only {version}"),
            None => "server speaks neither TLS 1.2 nor TLS 1.3".into(),
        },
        _ if first.starts_with(b"HTTP/") => {
            "the server answered in plain HTTP, not TLS (use http://)".into()
        }
        Error::InvalidMessage(InvalidMessage::HandshakePayloadTooLarge)
        | Error::InvalidMessage(InvalidMessage::MessageTooLarge) => {
            "the server's handshake message is larger than TLS allows (64 KiB)".into()
        }
        Error::InvalidMessage(_) => {
            format!("the server's answer is not TLS ({error})")
        }
        Error::AlertReceived(AlertDescription::CertificateRequired) => {
            "the server requires a client certificate (give --cert and --key)".into()
        }
        Error::AlertReceived(alert) => {
            format!("the server refused the handshake ({alert:?} alert)")
        }
        _ => format!("TLS handshake: {error}"),
    }
}

/// The version a ServerHello carried, when the first record is one and
/// its version is older than TLS 1.2.
fn offered_version(first: &[u8]) -> Option<&'static str> {
    // A ServerHello: record type 22, version (2), length (2); handshake
    // type 2, length (3), version (2). A protocol_version alert (type 21):
    // the record's version is the one the server speaks.
    let version = match first {
        [22, _, _, _, _, 2, _, _, _, major, minor, ..] => (*major, *minor),
        [21, major, minor, ..] => (*major, *minor),
        _ => return None,
    };
    match version {
        (3, 0) => Some("SSL 3.0"),
        (3, 1) => Some("TLS 1.0"),
        (3, 2) => Some("TLS 1.1"),
        _ => None,
    }
}

/// The version a server that refused TLS 1.2 and 1.3 does speak: a
/// ClientHello of the old form (no supported_versions, TLS 1.0 suites) on a
/// second connection, within the same deadline, and the ServerHello's
/// version read. OpenSSL answers a modern hello with a bare alert, which
/// does not say.
fn legacy_version(peer: std::net::SocketAddr, deadline: Instant) -> Option<&'static str> {
    use std::io::Write;
    let left = deadline.saturating_duration_since(Instant::now());
    let mut socket = TcpStream::connect_timeout(&peer, left.max(Duration::from_millis(1))).ok()?;
    let left = deadline.saturating_duration_since(Instant::now());
    socket
        .set_read_timeout(Some(left.max(Duration::from_millis(1))))
        .ok()?;
    let suites: [u16; 7] = [0xc014, 0xc013, 0xc00a, 0xc009, 0x0035, 0x002f, 0x000a];
    let mut body = vec![3, 3];
    body.extend([0x5a; 32]); // random
    body.push(0); // no session id
    body.extend(((suites.len() * 2) as u16).to_be_bytes());
    suites.iter().for_each(|s| body.extend(s.to_be_bytes()));
    body.extend([1, 0]); // null compression
                         // supported_groups (P-256, P-384) and ec_point_formats (uncompressed)
    let extensions = [0, 0x0a, 0, 6, 0, 4, 0, 0x17, 0, 0x18, 0, 0x0b, 0, 2, 1, 0];
    body.extend((extensions.len() as u16).to_be_bytes());
    body.extend(extensions);
    let mut hello = vec![22, 3, 1];
    hello.extend(((body.len() + 4) as u16).to_be_bytes());
    hello.extend([1, 0, (body.len() >> 8) as u8, body.len() as u8]);
    hello.extend(body);
    socket.write_all(&hello).ok()?;
    let mut answer = [0u8; 11];
    socket.read_exact(&mut answer).ok()?;
    offered_version(&answer)
}

/// What the verifier found, read back after the handshake.
#[derive(Debug, Default, Clone)]
struct Seen {
    chain_expiry: Option<i64>,
    failure: Option<String>,
    /// Of a refused server: the smallest NotAfter over the certificates it sent.
    sent_expiry: Option<i64>,
}

/// webpki's verification, keeping the verified path's earliest expiry and
/// each failure's own line. One per connection.
#[derive(Debug)]
struct Verifier {
    roots: Arc<RootCertStore>,
    root_certificates: Arc<Vec<x509::Certificate>>,
    insecure: bool,
    algorithms: WebPkiSupportedAlgorithms,
    seen: Mutex<Seen>,
}

impl Verifier {
    fn new(
        roots: Arc<RootCertStore>,
        root_certificates: Arc<Vec<x509::Certificate>>,
        insecure: bool,
    ) -> Verifier {
        Verifier {
            roots,
            root_certificates,
            insecure,
            algorithms: provider::SIGNATURE_ALGORITHMS,
            seen: Mutex::default(),
        }
    }

    fn seen(&self) -> Seen {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// `openssl req -x509` makes a self-signed certificate that says it is
    /// a CA, which webpki refuses as a server's. Go and curl accept it when
    /// it is itself a trusted root, as with `--ca-file` naming it: so do we,
    /// by its subject and key, with its dates and names still checked.
    fn trusted_self_signed(
        &self,
        end_entity: &CertificateDer<'_>,
        certificate: &webpki::EndEntityCert<'_>,
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let expected = server_name.to_str();
        let refused = || {
            self.fail(
                "certificate is a CA's, not a server's (give it with --ca-file to trust it \
                 as it is)"
                    .into(),
            )
        };
        let leaf = x509::parse(end_entity).ok_or_else(refused)?;
        let trusted = self
            .root_certificates
            .iter()
            .any(|root| root.subject_der == leaf.subject_der && root.spki_der == leaf.spki_der);
        if !trusted {
            return Err(refused());
        }
        let now = now.as_secs() as i64;
        if now > leaf.not_after {
            return Err(self.fail(format!(
                "certificate expired at {}",
                common::civil::format_utc(leaf.not_after)
            )));
        }
        if now < leaf.not_before {
            return Err(self.fail(format!(
                "certificate not valid before {}",
                common::civil::format_utc(leaf.not_before)
            )));
        }
        certificate
            .verify_is_valid_for_subject_name(server_name)
            .map_err(|e| self.fail(certificate_failure(&e, &expected)))?;
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .chain_expiry = Some(leaf.not_after);
        Ok(ServerCertVerified::assertion())
    }

    fn fail(&self, line: String) -> rustls::Error {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).failure = Some(line.clone());
        rustls::Error::General(line)
    }
}

/// One line for a certificate webpki refused.
fn certificate_failure(error: &webpki::Error, expected: &str) -> String {
    use webpki::Error;
    match error {
        Error::CertExpired { not_after, .. } => format!(
            "certificate expired at {}",
            common::civil::format_utc(not_after.as_secs() as i64)
        ),
        Error::CertNotValidYet { not_before, .. } => format!(
            "certificate not valid before {}",
            common::civil::format_utc(not_before.as_secs() as i64)
        ),
        Error::CertNotValidForName(context) => {
            let presented: Vec<String> = context
                .presented
                .iter()
                .map(|name| {
                    let name = name.strip_prefix("DnsName(\"").unwrap_or(name);
                    let name = name.strip_prefix("IpAddress(").unwrap_or(name);
                    name.trim_end_matches(['"', ')']).to_string()
                })
                .collect();
            match presented.is_empty() {
                true => format!("certificate names no host, not {expected}"),
                false => format!("certificate for {}, not {expected}", presented.join(", ")),
            }
        }
        Error::UnknownIssuer => "unknown issuer (give the CA with --ca-file, or --insecure as \
                                 the kubelet's HTTPS probe does)"
            .into(),
        Error::InvalidSignatureForPublicKey => "certificate's signature does not verify".into(),
        other => format!("certificate refused: {other}"),
    }
}

impl Verifier {
    /// webpki's verdict on the chain, its expiry kept (`seen`).
    fn verify_chain(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.insecure {
            return Ok(ServerCertVerified::assertion());
        }
        let expected = server_name.to_str();
        let certificate = webpki::EndEntityCert::try_from(end_entity)
            .map_err(|e| self.fail(format!("the server's certificate cannot be read: {e}")))?;
        let verified = certificate.verify_for_usage(
            self.algorithms.all,
            &self.roots.roots,
            intermediates,
            now,
            webpki::KeyUsage::server_auth(),
            None,
            None,
        );
        let path = match verified {
            Ok(path) => path,
            Err(webpki::Error::CaUsedAsEndEntity) => {
                return self.trusted_self_signed(end_entity, &certificate, server_name, now)
            }
            Err(e) => return Err(self.fail(certificate_failure(&e, &expected))),
        };
        certificate
            .verify_is_valid_for_subject_name(server_name)
            .map_err(|e| self.fail(certificate_failure(&e, &expected)))?;
        // A certificate of the path that cannot be read leaves the expiry
        // unknown (None), never the others' later one.
        let read: Option<Vec<i64>> = std::iter::once(x509::parse(end_entity))
            .chain(
                path.intermediate_certificates()
                    .map(|intermediate| x509::parse(&intermediate.der())),
            )
            .map(|certificate| certificate.map(|c| c.not_after))
            .collect();
        let Some(mut expiries) = read else {
            self.seen
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .chain_expiry = None;
            return Ok(ServerCertVerified::assertion());
        };
        let anchor = path.anchor();
        expiries.extend(
            self.root_certificates
                .iter()
                .filter(|root| {
                    root.subject_der == anchor.subject.as_ref()
                        && root.spki_der == anchor.subject_public_key_info.as_ref()
                })
                .map(|root| root.not_after)
                .min(),
        );
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .chain_expiry = expiries.into_iter().min();
        Ok(ServerCertVerified::assertion())
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified = self.verify_chain(end_entity, intermediates, server_name, now);
        if verified.is_err() {
            let sent: Vec<CertificateDer<'_>> = std::iter::once(end_entity)
                .chain(intermediates)
                .cloned()
                .collect();
            self.seen
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .sent_expiry = earliest_expiry(&sent).0;
        }
        verified
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A TLS error met after the handshake (an alert while reading the
/// answer), as one line; None for other I/O errors.
pub fn after_handshake(error: &std::io::Error) -> Option<String> {
    let inner = error.get_ref()?.downcast_ref::<rustls::Error>()?;
    Some(match inner {
        rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired) => {
            "the server requires a client certificate (give --cert and --key)".into()
        }
        rustls::Error::AlertReceived(alert) => format!("the server ended TLS ({alert:?} alert)"),
        other => format!("TLS: {other}"),
    })
}

/// ring's provider without ChaCha20-Poly1305, whose code is 50 KB of each
/// x86_64 binary (issue 21's 1.5 MB). Nothing is lost in reach: TLS 1.3
/// requires every server to speak AES-128-GCM (RFC 8446, 9.1), and TLS 1.2
/// servers that offer ChaCha20 offer AES-GCM too. A server that prefers
/// ChaCha20 picks AES-GCM with us where Go's client may get ChaCha20.
///
/// Naming `rustls::crypto::ring::default_provider()` anywhere links the
/// ChaCha20 code, and its signature list is private: so the list is here,
/// and a test holds it equal to rustls's.
mod provider {
    use rustls::crypto::ring::{cipher_suite, kx_group, sign};
    use rustls::crypto::{
        CryptoProvider, GetRandomFailed, KeyProvider, SecureRandom, WebPkiSupportedAlgorithms,
    };
    use rustls::pki_types::PrivateKeyDer;
    use rustls::sign::SigningKey;
    use rustls::SignatureScheme;
    use std::sync::Arc;
    use webpki::ring as algorithm;

    pub fn without_chacha20() -> CryptoProvider {
        CryptoProvider {
            // ring's order, ChaCha20 left out.
            cipher_suites: vec![
                cipher_suite::TLS13_AES_256_GCM_SHA384,
                cipher_suite::TLS13_AES_128_GCM_SHA256,
                cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
                cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            ],
            kx_groups: vec![kx_group::X25519, kx_group::SECP256R1, kx_group::SECP384R1],
            signature_verification_algorithms: SIGNATURE_ALGORITHMS,
            secure_random: &Ring,
            key_provider: &Ring,
        }
    }

    #[derive(Debug)]
    struct Ring;

    impl SecureRandom for Ring {
        fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
            use ring::rand::SecureRandom;
            ring::rand::SystemRandom::new()
                .fill(buf)
                .map_err(|_| GetRandomFailed)
        }
    }

    impl KeyProvider for Ring {
        fn load_private_key(
            &self,
            key: PrivateKeyDer<'static>,
        ) -> Result<Arc<dyn SigningKey>, rustls::Error> {
            sign::any_supported_type(&key)
        }
    }

    /// rustls's `SUPPORTED_SIG_ALGS` for ring (crypto/ring/mod.rs).
    pub static SIGNATURE_ALGORITHMS: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
        all: &[
            algorithm::ECDSA_P256_SHA256,
            algorithm::ECDSA_P256_SHA384,
            algorithm::ECDSA_P384_SHA256,
            algorithm::ECDSA_P384_SHA384,
            algorithm::ED25519,
            algorithm::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
            algorithm::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
            algorithm::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
            algorithm::RSA_PKCS1_2048_8192_SHA256,
            algorithm::RSA_PKCS1_2048_8192_SHA384,
            algorithm::RSA_PKCS1_2048_8192_SHA512,
            algorithm::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
            algorithm::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
            algorithm::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
        ],
        mapping: &[
            // For TLS 1.2 the scheme does not fix the curve; for 1.3 it does.
            (
                SignatureScheme::ECDSA_NISTP384_SHA384,
                &[algorithm::ECDSA_P384_SHA384, algorithm::ECDSA_P256_SHA384],
            ),
            (
                SignatureScheme::ECDSA_NISTP256_SHA256,
                &[algorithm::ECDSA_P256_SHA256, algorithm::ECDSA_P384_SHA256],
            ),
            (SignatureScheme::ED25519, &[algorithm::ED25519]),
            (
                SignatureScheme::RSA_PSS_SHA512,
                &[algorithm::RSA_PSS_2048_8192_SHA512_LEGACY_KEY],
            ),
            (
                SignatureScheme::RSA_PSS_SHA384,
                &[algorithm::RSA_PSS_2048_8192_SHA384_LEGACY_KEY],
            ),
            (
                SignatureScheme::RSA_PSS_SHA256,
                &[algorithm::RSA_PSS_2048_8192_SHA256_LEGACY_KEY],
            ),
            (
                SignatureScheme::RSA_PKCS1_SHA512,
                &[algorithm::RSA_PKCS1_2048_8192_SHA512],
            ),
            (
                SignatureScheme::RSA_PKCS1_SHA384,
                &[algorithm::RSA_PKCS1_2048_8192_SHA384],
            ),
            (
                SignatureScheme::RSA_PKCS1_SHA256,
                &[algorithm::RSA_PKCS1_2048_8192_SHA256],
            ),
        ],
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_provider_is_rings_without_chacha20_with_its_signature_list() {
        let ring = rustls::crypto::ring::default_provider();
        let ours = provider::without_chacha20();
        let names = |provider: &rustls::crypto::CryptoProvider| {
            let suites = provider.cipher_suites.iter();
            suites
                .map(|s| format!("{:?}", s.suite()))
                .collect::<Vec<_>>()
        };
        let mut expected = names(&ring);
        expected.retain(|name| !name.contains("CHACHA20"));
        assert_eq!(names(&ours), expected);
        assert_eq!(
            format!("{:?}", ours.kx_groups),
            format!("{:?}", ring.kx_groups)
        );
        // Each algorithm by its identifiers: the list's Debug shows only the
        // mapping's schemes.
        let algorithms = |list: &WebPkiSupportedAlgorithms| {
            let ids = |all: &[&dyn rustls::pki_types::SignatureVerificationAlgorithm]| {
                let ids = all
                    .iter()
                    .map(|a| (a.public_key_alg_id(), a.signature_alg_id()));
                format!("{:?}", ids.collect::<Vec<_>>())
            };
            let mapping = list.mapping.iter().map(|(scheme, all)| (scheme, ids(all)));
            (ids(list.all), mapping.collect::<Vec<_>>())
        };
        assert_eq!(
            algorithms(&ours.signature_verification_algorithms),
            algorithms(&ring.signature_verification_algorithms)
        );
    }

    // A real public chain, kept as the server sent it (leaf, then its
    // intermediate): testssl.kamusm.gov.tr, issued under TUBITAK Kamu SM's
    // root, which is one of the Mozilla roots; taken from webpki-roots'
    // own tests. With no network here, the roots are shown to work on it
    // at a time when it was valid.
    const LEAF: &[u8] = include_bytes!("testdata/kamusm/leaf.der");
    const INTERMEDIATE: &[u8] = include_bytes!("testdata/kamusm/intermediate.der");
    const VALID_AT: u64 = 1_493_668_479; // 2017-05-01T19:54:39Z
    const LEAF_NOT_AFTER: i64 = 1_583_473_447; // 2020-03-06T05:44:07Z

    fn verify(roots: RootCertStore, name: &str, at: u64) -> Result<Seen, String> {
        let verifier = Verifier::new(Arc::new(roots), Arc::default(), false);
        let verified = verifier.verify_server_cert(
            &CertificateDer::from(LEAF),
            &[CertificateDer::from(INTERMEDIATE)],
            &ServerName::try_from(name).unwrap(),
            &[],
            UnixTime::since_unix_epoch(Duration::from_secs(at)),
        );
        match verified {
            Ok(_) => Ok(verifier.seen()),
            Err(_) => Err(verifier.seen().failure.expect("a failure line")),
        }
    }

    #[test]
    fn the_built_in_roots_verify_a_real_public_chain_at_a_pinned_time() {
        let seen = verify(built_in_roots(), "testssl.kamusm.gov.tr", VALID_AT).unwrap();
        // The built-in root carries no date: the chain's expiry is the
        // earliest of the leaf and intermediate.
        assert_eq!(seen.chain_expiry, Some(LEAF_NOT_AFTER));
        assert!(built_in_roots().roots.len() > 100);
    }

    #[test]
    fn the_real_chain_is_refused_for_its_own_reasons() {
        assert_eq!(
            verify(RootCertStore::empty(), "testssl.kamusm.gov.tr", VALID_AT).unwrap_err(),
            "unknown issuer (give the CA with --ca-file, or --insecure as the kubelet's \
             HTTPS probe does)"
        );
        assert_eq!(
            verify(built_in_roots(), "testssl.kamusm.gov.tr", 1_600_000_000).unwrap_err(),
            "certificate expired at 2020-03-06T05:44:07Z"
        );
        assert_eq!(
            verify(built_in_roots(), "example.org", VALID_AT).unwrap_err(),
            "certificate for testssl.kamusm.gov.tr, not example.org"
        );
    }
}
