//! The X.509 reader against x509-parser, a full parser, as the oracle: the
//! system's CA certificates and certificates of unusual shapes made by
//! rcgen read the same both ways; mutated and arbitrary DER is read or
//! refused, never a panic.

use super::{parse, Certificate};
use proptest::prelude::*;
use rcgen::{CertificateParams, DnType, KeyPair, SanType, SerialNumber};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

const LEAF: &[u8] = include_bytes!("../testdata/kamusm/leaf.der");
const INTERMEDIATE: &[u8] = include_bytes!("../testdata/kamusm/intermediate.der");

/// The fields ours reads, as x509-parser reads them; None where it refuses.
fn oracle(der: &[u8]) -> Option<(i64, i64, String, Vec<String>)> {
    let (_, certificate) = X509Certificate::from_der(der).ok()?;
    let validity = certificate.validity();
    let hex: String = certificate
        .raw_serial()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let serial = match hex.trim_start_matches('0') {
        "" => "0".to_string(),
        digits => digits.to_string(),
    };
    let dns_names = match certificate.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|name| match name {
                GeneralName::DNSName(dns) => Some(dns.to_string()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Some((
        validity.not_before.timestamp(),
        validity.not_after.timestamp(),
        serial,
        dns_names,
    ))
}

fn ours(der: &[u8]) -> Option<(i64, i64, String, Vec<String>)> {
    parse(der).map(|c: Certificate| (c.not_before, c.not_after, c.serial, c.dns_names))
}

/// The system's CA bundle, where there is one, and the test data's chain.
fn real_certificates() -> Vec<Vec<u8>> {
    let mut all = vec![LEAF.to_vec(), INTERMEDIATE.to_vec()];
    if let Ok(bundle) = std::fs::read("/etc/ssl/certs/ca-certificates.crt") {
        all.extend(
            x509_parser::pem::Pem::iter_from_buffer(&bundle)
                .filter_map(Result::ok)
                .map(|pem| pem.contents),
        );
    }
    all
}

#[test]
fn real_certificates_read_as_x509_parser_reads_them() {
    let all = real_certificates();
    for der in &all {
        let theirs = oracle(der).expect("x509-parser reads a real certificate");
        assert_eq!(
            ours(der),
            Some(theirs),
            "{}",
            super::fingerprint_sha256(der)
        );
    }
    // The CA bundle is there on this kind of machine: more than the two.
    eprintln!("{} real certificates read both ways", all.len());
}

/// Shapes rcgen does not make, made by the openssl command where it is
/// installed: an RSA-PSS key, several OUs and a multi-valued RDN, an empty
/// subject with only a SAN. Each: the fields read as x509-parser reads
/// them, and the subject written as Go writes it.
#[test]
fn openssl_made_certificates_read_as_x509_parser_and_go_read_them() {
    let dir = std::env::temp_dir().join(format!("sidecars-x509-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases: [(&str, &[&str], &str); 3] = [
        (
            "pss",
            &[
                "-newkey",
                "rsa-pss",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-multivalue-rdn",
                "-subj",
                "/CN=x+O=y/OU=a/OU=b",
            ],
            "CN=x,OU=a+OU=b,O=y",
        ),
        (
            "empty",
            &[
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-384",
                "-subj",
                "/",
                "-addext",
                "subjectAltName=DNS:only.example",
            ],
            "",
        ),
        (
            "escapes",
            &[
                "-newkey",
                "ed25519",
                "-subj",
                "/CN=#a\\,b <d>;e\"f/serialNumber=7/C=DE",
            ],
            // Go's order (C ... CN, SERIALNUMBER) written last to first.
            "SERIALNUMBER=7,CN=\\#a\\,b \\<d\\>\\;e\\\"f,C=DE",
        ),
    ];
    for (name, args, subject) in cases {
        let der_file = dir.join(format!("{name}.der"));
        let made = std::process::Command::new("openssl")
            .args(["req", "-x509", "-nodes", "-days", "1", "-outform", "DER"])
            .args(["-keyout", dir.join(format!("{name}.key")).to_str().unwrap()])
            .args(["-out", der_file.to_str().unwrap()])
            .args(args)
            .output();
        let Ok(made) = made else {
            eprintln!("skipped: the openssl command is not installed");
            return;
        };
        assert!(
            made.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&made.stderr)
        );
        let der = std::fs::read(&der_file).unwrap();
        assert_eq!(ours(&der), oracle(&der), "{name}");
        assert_eq!(parse(&der).unwrap().subject, subject, "{name}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Text for a name attribute: Go's escapes, several scripts, spaces at the ends.
fn name_text() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[ #a-zA-Z0-9,+\"\\\\<>;=é漢]{1,24}").unwrap()
}

fn dns_name() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-z0-9]{1,10}(\\.[a-z0-9]{1,10}){0,3}").unwrap()
}

/// Seconds from 1950 to 9999: UTCTime before 2050, GeneralizedTime after.
fn instant() -> impl Strategy<Value = i64> {
    -631_152_000i64..253_402_300_799
}

#[derive(Debug, Clone, Copy)]
enum Key {
    Ed25519,
    P256,
    P384,
}

fn key_pair(key: Key) -> KeyPair {
    let algorithm = match key {
        Key::Ed25519 => &rcgen::PKCS_ED25519,
        Key::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        Key::P384 => &rcgen::PKCS_ECDSA_P384_SHA384,
    };
    KeyPair::generate_for(algorithm).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(120))]

    /// Certificates of unusual but valid shapes, made by rcgen: the fields
    /// ours reads equal x509-parser's.
    #[test]
    fn made_certificates_read_as_x509_parser_reads_them(
        serial in proptest::collection::vec(any::<u8>(), 1..=20),
        dates in (instant(), instant()),
        cn in proptest::option::of(name_text()),
        ou in proptest::option::of(name_text()),
        names in proptest::collection::vec(dns_name(), 0..300),
        key in prop_oneof![Just(Key::Ed25519), Just(Key::P256), Just(Key::P384)],
    ) {
        let mut params = CertificateParams::default();
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        let at = |secs| time::OffsetDateTime::from_unix_timestamp(secs).unwrap();
        params.not_before = at(dates.0.min(dates.1));
        params.not_after = at(dates.0.max(dates.1));
        params.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(cn) = &cn {
            params.distinguished_name.push(DnType::CommonName, cn.as_str());
        }
        if let Some(ou) = &ou {
            params.distinguished_name.push(DnType::OrganizationalUnitName, ou.as_str());
        }
        params.subject_alt_names = names
            .iter()
            .map(|n| SanType::DnsName(n.clone().try_into().unwrap()))
            .collect();
        let key = key_pair(key);
        let der = params.self_signed(&key).unwrap().der().to_vec();
        let theirs = oracle(&der).expect("x509-parser reads what rcgen made");
        let read = parse(&der).expect("ours reads what rcgen made");
        prop_assert_eq!(
            (read.not_before, read.not_after, read.serial.clone(), read.dns_names.clone()),
            theirs
        );
        // A subject of only escapes and scripts is still one line of text.
        prop_assert!(!read.subject.contains('\n'));
    }

    /// Real certificates with bytes flipped, inserted, deleted or cut, and
    /// arbitrary bytes: read or refused, never a panic; whatever is read
    /// lies within the input.
    #[test]
    fn mutated_certificates_are_read_or_refused(
        which in 0usize..2,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..4), 1..6),
    ) {
        let mut der = [LEAF, INTERMEDIATE][which].to_vec();
        for (at, byte, kind) in edits {
            let len = der.len().max(1);
            match kind {
                0 if !der.is_empty() => der[at % len] ^= byte.max(1),
                1 => der.insert(at % (der.len() + 1), byte),
                2 if !der.is_empty() => drop(der.remove(at % len)),
                _ => der.truncate(at % len),
            }
        }
        if let Some(read) = parse(&der) {
            prop_assert!(read.subject_der.len() <= der.len() && read.spki_der.len() <= der.len());
        }
    }

    #[test]
    fn arbitrary_bytes_are_read_or_refused(der in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&der);
        // After a valid outer header, so the parse gets past the first tags.
        let mut framed = vec![0x30, 0x82, (der.len() >> 8) as u8, der.len() as u8];
        framed.extend_from_slice(&der);
        let _ = parse(&framed);
    }
}
