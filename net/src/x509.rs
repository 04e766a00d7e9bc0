//! The few fields of an X.509 certificate the TLS series carry, read from
//! its DER by hand: validity, subject, issuer, DNS names and serial number,
//! and the names written as Go's crypto/x509 writes them, so that the labels
//! equal the blackbox exporter's. A full X.509 crate would cost size for
//! fields nothing here reads; a certificate this cannot read gives None.

/// What the series and checks read of one certificate.
#[derive(Debug, Clone, PartialEq)]
pub struct Certificate {
    /// Seconds since the epoch.
    pub not_before: i64,
    pub not_after: i64,
    /// As Go's `pkix.Name.String()`: `CN=leaf,O=Example`.
    pub subject: String,
    pub issuer: String,
    /// The DNS names of the subjectAltName extension, in order.
    pub dns_names: Vec<String>,
    /// Lower-case hex without leading zeros, as Go's `SerialNumber.Text(16)`.
    pub serial: String,
    /// The subject and the public key as DER contents (no outer tag), to
    /// match a trust anchor.
    pub subject_der: Vec<u8>,
    pub spki_der: Vec<u8>,
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const OID: u8 = 0x06;
const OCTET_STRING: u8 = 0x04;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// One DER element off the front of `input`: its tag and contents.
fn element<'a>(input: &mut &'a [u8]) -> Option<(u8, &'a [u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let length = if first < 0x80 {
        first as usize
    } else {
        let count = (first & 0x7f) as usize;
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let length = rest[..count]
            .iter()
            .fold(0usize, |n, &b| (n << 8) | b as usize);
        rest = &rest[count..];
        length
    };
    if rest.len() < length {
        return None;
    }
    let (contents, after) = rest.split_at(length);
    *input = after;
    Some((tag, contents))
}

fn expect<'a>(input: &mut &'a [u8], tag: u8) -> Option<&'a [u8]> {
    match element(input)? {
        (found, contents) if found == tag => Some(contents),
        _ => None,
    }
}

pub fn parse(der: &[u8]) -> Option<Certificate> {
    let mut input = der;
    let mut certificate = expect(&mut input, SEQUENCE)?;
    let mut tbs = expect(&mut certificate, SEQUENCE)?;
    if tbs.first() == Some(&0xa0) {
        element(&mut tbs)?; // [0] version
    }
    let serial = expect(&mut tbs, INTEGER)?;
    expect(&mut tbs, SEQUENCE)?; // signature algorithm
    let issuer = expect(&mut tbs, SEQUENCE)?;
    let mut validity = expect(&mut tbs, SEQUENCE)?;
    let not_before = time(&mut validity)?;
    let not_after = time(&mut validity)?;
    let subject = expect(&mut tbs, SEQUENCE)?;
    let spki = expect(&mut tbs, SEQUENCE)?;
    let mut dns_names = Vec::new();
    while let Some((tag, contents)) = element(&mut tbs) {
        if tag == 0xa3 {
            dns_names = san_dns_names(contents).unwrap_or_default();
        }
    }
    Some(Certificate {
        not_before,
        not_after,
        subject: go_name(subject)?,
        issuer: go_name(issuer)?,
        dns_names,
        serial: serial_hex(serial),
        subject_der: subject.to_vec(),
        spki_der: spki.to_vec(),
    })
}

/// UTCTime (YYMMDDHHMMSSZ, 1950-2049) or GeneralizedTime (YYYYMMDDHHMMSSZ).
fn time(input: &mut &[u8]) -> Option<i64> {
    let (tag, text) = element(input)?;
    let text = std::str::from_utf8(text).ok()?;
    let digits = text.strip_suffix('Z')?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |at: usize, len: usize| digits.get(at..at + len)?.parse::<i64>().ok();
    let (year, rest) = match (tag, digits.len()) {
        (UTC_TIME, 12) => {
            let yy = n(0, 2)?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, 2)
        }
        (GENERALIZED_TIME, 14) => (n(0, 4)?, 4),
        _ => return None,
    };
    let (month, day) = (n(rest, 2)? as u32, n(rest + 2, 2)? as u32);
    if !(1..=12).contains(&month) || day == 0 || day > common::civil::days_in_month(year, month) {
        return None;
    }
    let (hour, minute, second) = (n(rest + 4, 2)?, n(rest + 6, 2)?, n(rest + 8, 2)?);
    Some(common::civil::days_of(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// The dNSName entries of the extensions' subjectAltName (2.5.29.17).
fn san_dns_names(explicit: &[u8]) -> Option<Vec<String>> {
    let mut outer = explicit;
    let mut extensions = expect(&mut outer, SEQUENCE)?;
    while let Some(mut extension) = expect(&mut extensions, SEQUENCE) {
        let oid = expect(&mut extension, OID)?;
        if oid != [0x55, 0x1d, 0x11] {
            continue;
        }
        let (mut tag, mut value) = element(&mut extension)?;
        if tag == 0x01 {
            (tag, value) = element(&mut extension)?; // critical
        }
        if tag != OCTET_STRING {
            return None;
        }
        let mut names = expect(&mut value, SEQUENCE)?;
        let mut found = Vec::new();
        while let Some((tag, name)) = element(&mut names) {
            if tag == 0x82 {
                found.push(String::from_utf8_lossy(name).into_owned());
            }
        }
        return Some(found);
    }
    Some(Vec::new())
}

fn serial_hex(integer: &[u8]) -> String {
    let hex: String = integer.iter().map(|b| format!("{b:02x}")).collect();
    match hex.trim_start_matches('0') {
        "" => "0".into(),
        digits => digits.into(),
    }
}

/// The attribute types Go's crypto/x509 names (2.5.4.N), in the order its
/// `ToRDNSequence` writes them.
const NAMED: [(u8, &str); 9] = [
    (6, "C"),
    (8, "ST"),
    (7, "L"),
    (9, "STREET"),
    (17, "POSTALCODE"),
    (10, "O"),
    (11, "OU"),
    (3, "CN"),
    (5, "SERIALNUMBER"),
];

/// A Name as Go's `pkix.Name.String()` writes it: the named attributes
/// regrouped in Go's order (CN and SERIALNUMBER keep the last value), other
/// attributes as `OID=#hex` first in the sequence, and the sequence written
/// last to first.
fn go_name(name: &[u8]) -> Option<String> {
    let mut named: Vec<(u8, Vec<String>)> = Vec::new();
    let mut sequence: Vec<Vec<String>> = Vec::new();
    let mut rdns = name;
    while let Some(mut set) = expect(&mut rdns, SET) {
        while let Some(mut pair) = expect(&mut set, SEQUENCE) {
            let oid = expect(&mut pair, OID)?;
            let (tag, value) = element(&mut pair)?;
            let text = string_value(tag, value);
            match (oid, &text) {
                ([0x55, 0x04, n], Some(text)) if NAMED.iter().any(|(k, _)| k == n) => {
                    match named.iter_mut().find(|(k, _)| k == n) {
                        Some((_, values)) if *n == 3 || *n == 5 => *values = vec![text.clone()],
                        Some((_, values)) => values.push(text.clone()),
                        None => named.push((*n, vec![text.clone()])),
                    }
                }
                _ => sequence.push(vec![format!(
                    "{}=#{}",
                    oid_text(oid)?,
                    go_marshalled(tag, value, text.as_deref())
                )]),
            }
        }
    }
    for (n, label) in NAMED {
        if let Some((_, values)) = named.iter().find(|(k, _)| *k == n) {
            sequence.push(
                values
                    .iter()
                    .map(|v| format!("{label}={}", escape(v)))
                    .collect(),
            );
        }
    }
    let written: Vec<String> = sequence.iter().rev().map(|rdn| rdn.join("+")).collect();
    Some(written.join(","))
}

/// The text of a directory string; None for a value of another type.
fn string_value(tag: u8, value: &[u8]) -> Option<String> {
    match tag {
        // UTF8String, PrintableString, T61String, IA5String, NumericString
        0x0c | 0x13 | 0x14 | 0x16 | 0x12 => Some(String::from_utf8_lossy(value).into_owned()),
        // BMPString: UTF-16BE
        0x1e if value.len() & 1 == 0 => Some(String::from_utf16_lossy(
            &value
                .chunks(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]]))
                .collect::<Vec<_>>(),
        )),
        _ => None,
    }
}

/// The hex Go writes for an attribute it has no name for: the value
/// marshalled again, a string as PrintableString when it can be one and
/// UTF8String otherwise, anything else as it came.
fn go_marshalled(tag: u8, value: &[u8], text: Option<&str>) -> String {
    let printable = |c: char| c.is_ascii_alphanumeric() || " '()+,-./:=?".contains(c);
    let (tag, bytes) = match text {
        Some(text) if text.chars().all(printable) => (0x13, text.as_bytes()),
        Some(text) => (0x0c, text.as_bytes()),
        None => (tag, value),
    };
    let mut der = vec![tag];
    let n = bytes.len();
    if n < 0x80 {
        der.push(n as u8);
    } else {
        let length = n.to_be_bytes();
        let significant = &length[length.iter().take_while(|&&b| b == 0).count()..];
        der.push(0x80 | significant.len() as u8);
        der.extend_from_slice(significant);
    }
    der.extend_from_slice(bytes);
    der.iter().map(|b| format!("{b:02x}")).collect()
}

/// Dotted decimal; None for an arc past 64 bits, which Go would print
/// whole and this does not try to.
fn oid_text(oid: &[u8]) -> Option<String> {
    let mut arcs: Vec<u64> = Vec::new();
    let mut value = 0u64;
    for &b in oid {
        value = value.checked_mul(128)? | (b & 0x7f) as u64;
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.extend([first, value - first * 40]);
            } else {
                arcs.push(value);
            }
            value = 0;
        }
    }
    Some(
        arcs.iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join("."),
    )
}

/// RFC 2253 escaping as Go does it.
fn escape(value: &str) -> String {
    let last = value.len().saturating_sub(1);
    let mut escaped = String::with_capacity(value.len());
    for (at, c) in value.char_indices() {
        let needed = match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => true,
            ' ' => at == 0 || at == last,
            '#' => at == 0,
            _ => false,
        };
        if needed {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Lower-case hex of the SHA-256 of `der`.
pub fn fingerprint_sha256(der: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod oracle_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match contents.len() {
            n if n < 0x80 => out.push(n as u8),
            n => out.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend_from_slice(contents);
        out
    }

    fn attribute(oid: &[u8], tag: u8, value: &str) -> Vec<u8> {
        let pair = [tlv(OID, oid), tlv(tag, value.as_bytes())].concat();
        tlv(SET, &tlv(SEQUENCE, &pair))
    }

    #[test]
    fn names_are_written_as_go_writes_them() {
        // Written CN first and O after, with an e-mail address: Go regroups
        // C, O, CN in its own order and puts unnamed attributes last.
        let name = [
            attribute(&[0x55, 4, 3], 0x0c, "leaf, one"),
            attribute(&[0x55, 4, 10], 0x13, "Example"),
            attribute(
                &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 9, 1],
                0x16,
                "a@b.example",
            ),
            attribute(&[0x55, 4, 6], 0x13, "DE"),
            attribute(&[0x55, 4, 3], 0x0c, " last#"),
        ]
        .concat();
        assert_eq!(
            go_name(&name).unwrap(),
            "CN=\\ last#,O=Example,C=DE,1.2.840.113549.1.9.1=#0c0b6140622e6578616d706c65"
        );
        assert_eq!(go_name(&[]).unwrap(), "");
    }

    #[test]
    fn several_ous_and_multi_valued_rdns_are_regrouped_as_go_does() {
        // Go flattens every RDN into pkix.Name, then writes one RDN per
        // attribute type, several values of one type joined with '+'.
        let multi_valued = {
            let cn = tlv(
                SEQUENCE,
                &[tlv(OID, &[0x55, 4, 3]), tlv(0x0c, b"x")].concat(),
            );
            let o = tlv(
                SEQUENCE,
                &[tlv(OID, &[0x55, 4, 10]), tlv(0x0c, b"y")].concat(),
            );
            tlv(SET, &[cn, o].concat())
        };
        let name = [
            attribute(&[0x55, 4, 11], 0x0c, "a"),
            multi_valued,
            attribute(&[0x55, 4, 11], 0x0c, "b"),
        ]
        .concat();
        assert_eq!(go_name(&name).unwrap(), "CN=x,OU=a+OU=b,O=y");
    }

    #[test]
    fn an_oid_arc_past_64_bits_makes_the_name_unreadable_not_wrong() {
        let huge_arc = [
            0x2a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
        ];
        assert_eq!(go_name(&attribute(&huge_arc, 0x0c, "v")), None);
        assert_eq!(oid_text(&[0x2a, 0x86, 0x48]).as_deref(), Some("1.2.840"));
    }

    #[test]
    fn times_serials_and_bad_input() {
        let mut utc = &tlv(UTC_TIME, b"261130000000Z")[..];
        assert_eq!(
            time(&mut utc),
            common::civil::parse_utc("2026-11-30 00:00:00")
        );
        let mut generalized = &tlv(GENERALIZED_TIME, b"20500101120000Z")[..];
        assert_eq!(
            time(&mut generalized),
            common::civil::parse_utc("2050-01-01 12:00:00")
        );
        let mut bad = &tlv(UTC_TIME, b"261330000000Z")[..];
        assert_eq!(time(&mut bad), None);
        assert_eq!(serial_hex(&[0x00, 0x8f, 0x01]), "8f01");
        assert_eq!(serial_hex(&[0x01, 0x00]), "100");
        assert_eq!(serial_hex(&[0]), "0");
        // Truncated or oversized lengths never read past the input.
        for der in [&[0x30, 0x85, 1, 1, 1, 1, 1][..], &[0x30, 0x10, 1], &[0x30]] {
            assert_eq!(parse(der), None);
        }
    }
}
