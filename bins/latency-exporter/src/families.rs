//! latency-exporter's metric families, declared once: name, type, HELP and labels.
//! `/metrics` writes them, and the tests hold docs/latency-exporter.md and every
//! scrape to this list. The e2e tests include this file by path, so that
//! they need not build the side-car's crate to know its families.

use common::prom::{Family, Kind};

pub const FAMILIES: &[&[&Family]] = &[
    &[
        &SUCCESS,
        &DURATION_SECONDS,
        &DNS_LOOKUP_TIME_SECONDS,
        &IP_PROTOCOL,
        &IP_ADDR_HASH,
        &HTTP_STATUS_CODE,
        &HTTP_VERSION,
        &HTTP_SSL,
        &HTTP_REDIRECTS,
        &HTTP_CONTENT_LENGTH,
        &HTTP_UNCOMPRESSED_BODY_LENGTH,
        &FAILED_DUE_TO_CONDITION,
        &FAILED_DUE_TO_REGEX,
        &FAILED_DUE_TO_CEL,
        &TCP_CONNECTED,
        &SSL_EARLIEST_CERT_EXPIRY,
        &SSL_LAST_CHAIN_EXPIRY_TIMESTAMP_SECONDS,
        &HTTP_DURATION,
        &LAST_SUCCESS,
        &TOTAL,
        &LATENCY,
        &SSL_LAST_CHAIN_INFO,
        &TLS_VERSION_INFO,
        &TLS_CIPHER_INFO,
        &CEL_GAUGE_ERRORS,
        &BUILD_INFO,
    ],
    common::process_metrics::FAMILIES,
];

pub(crate) const SUCCESS: Family = Family::new(
    "probe_success",
    Kind::Gauge,
    "Whether the last probe succeeded (1) or not (0).",
    &["target"],
);
pub(crate) const DURATION_SECONDS: Family = Family::new(
    "probe_duration_seconds",
    Kind::Gauge,
    "Duration of the last probe: the sum of its phases.",
    &["target"],
);
pub(crate) const DNS_LOOKUP_TIME_SECONDS: Family = Family::new(
    "probe_dns_lookup_time_seconds",
    Kind::Gauge,
    "Time the last probe took to resolve the target's name (0 for an IP).",
    &["target"],
);
pub(crate) const IP_PROTOCOL: Family = Family::new(
    "probe_ip_protocol",
    Kind::Gauge,
    "IP protocol of the address probed (4 or 6).",
    &["target"],
);
pub(crate) const IP_ADDR_HASH: Family = Family::new(
    "probe_ip_addr_hash",
    Kind::Gauge,
    "FNV-1a hash of the address probed, to see it change.",
    &["target"],
);
pub(crate) const HTTP_STATUS_CODE: Family = Family::new(
    "probe_http_status_code",
    Kind::Gauge,
    "HTTP status of the last probe's response (0: none).",
    &["target"],
);
pub(crate) const HTTP_VERSION: Family = Family::new(
    "probe_http_version",
    Kind::Gauge,
    "HTTP version of the last probe's response.",
    &["target"],
);
pub(crate) const HTTP_SSL: Family = Family::new(
    "probe_http_ssl",
    Kind::Gauge,
    "Whether the final answer of the last probe came over TLS.",
    &["target"],
);
pub(crate) const HTTP_REDIRECTS: Family = Family::new(
    "probe_http_redirects",
    Kind::Gauge,
    "Redirects the last probe followed.",
    &["target"],
);
pub(crate) const HTTP_CONTENT_LENGTH: Family = Family::new(
    "probe_http_content_length",
    Kind::Gauge,
    "The last response's Content-Length header (-1 when absent), as the blackbox exporter.",
    &["target"],
);
pub(crate) const HTTP_UNCOMPRESSED_BODY_LENGTH: Family = Family::new(
    "probe_http_uncompressed_body_length",
    Kind::Gauge,
    "Body bytes of the last probe's response, as received.",
    &["target"],
);
pub(crate) const FAILED_DUE_TO_CONDITION: Family = Family::new(
    "probe_failed_due_to_condition",
    Kind::Gauge,
    "Whether the last probe failed a condition of its target (--status, --contains, --json, --cel).",
    &["target"],
);
pub(crate) const FAILED_DUE_TO_REGEX: Family = Family::new(
    "probe_failed_due_to_regex",
    Kind::Gauge,
    "The blackbox exporter's name for probe_failed_due_to_condition, so alerts on it keep working.",
    &["target"],
);
pub(crate) const FAILED_DUE_TO_CEL: Family = Family::new(
    "probe_failed_due_to_cel",
    Kind::Gauge,
    "Whether the last probe failed a --cel expression of its target (false, not a bool, or an error), as the blackbox exporter 0.27.",
    &["target"],
);
pub(crate) const TCP_CONNECTED: Family = Family::new(
    "probe_tcp_connected",
    Kind::Gauge,
    "Whether the last TCP probe connected (tcp:// and tls:// targets).",
    &["target"],
);
pub(crate) const SSL_EARLIEST_CERT_EXPIRY: Family = Family::new(
    "probe_ssl_earliest_cert_expiry",
    Kind::Gauge,
    "Unix time of the earliest NotAfter over every certificate the server sent.",
    &["target"],
);
pub(crate) const SSL_LAST_CHAIN_EXPIRY_TIMESTAMP_SECONDS: Family = Family::new(
    "probe_ssl_last_chain_expiry_timestamp_seconds",
    Kind::Gauge,
    "Unix time of the earliest NotAfter in the verified chain (the root's counted when it came from --ca-file or SSL_CERT_*; not with --insecure).",
    &["target"],
);
pub(crate) const HTTP_DURATION: Family = Family::new(
    "probe_http_duration_seconds",
    Kind::Gauge,
    "Duration of each phase of the last HTTP probe, summed over redirects.",
    &["target", "phase"],
);
pub(crate) const LAST_SUCCESS: Family = Family::new(
    "probe_last_success_timestamp_seconds",
    Kind::Gauge,
    "Unix time of the last successful probe.",
    &["target"],
);
pub(crate) const TOTAL: Family = Family::new(
    "probe_total",
    Kind::Counter,
    "Probes since start, by result.",
    &["target", "result"],
);
pub(crate) const LATENCY: Family = Family::new(
    "probe_latency_seconds",
    Kind::Histogram,
    "Duration of every probe since start, from connection start to the last body byte.",
    &["target"],
);
pub(crate) const SSL_LAST_CHAIN_INFO: Family = Family::new(
    "probe_ssl_last_chain_info",
    Kind::Gauge,
    "The server's leaf certificate, as labels.",
    &[
        "target",
        "fingerprint_sha256",
        "subject",
        "issuer",
        "subjectalternative",
        "serialnumber",
    ],
);
pub(crate) const TLS_VERSION_INFO: Family = Family::new(
    "probe_tls_version_info",
    Kind::Gauge,
    "The TLS version the last probe negotiated.",
    &["target", "version"],
);
pub(crate) const TLS_CIPHER_INFO: Family = Family::new(
    "probe_tls_cipher_info",
    Kind::Gauge,
    "The cipher suite the last probe negotiated, by Go's name.",
    &["target", "cipher"],
);
pub(crate) const CEL_GAUGE_ERRORS: Family = Family::new(
    "latency_exporter_cel_series_errors_total",
    Kind::Counter,
    "Answers a --cel-gauge could not turn into series (an error, or a value of another shape), since start.",
    &["target", "name"],
);
pub(crate) const BUILD_INFO: Family = common::build_info::family("latency_exporter_build_info");
