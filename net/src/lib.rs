//! What the side-cars that speak HTTP share: reading an answer (RFC 9112),
//! the client, TLS and its X.509 facts, and the check language. sweep, which
//! speaks no HTTP, does not compile it (nor rustls and ring).

pub mod answer;
pub mod client;
pub mod condition;
pub mod error;
pub mod json_condition;
pub mod tls;
pub mod x509;
