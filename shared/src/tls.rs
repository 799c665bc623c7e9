//! TLS trust for every outbound connection, compiled into the binary: reading the
//! system's certificate store (a bundle and ~150 files, parsed twice — once for reqwest's
//! platform verifier, once for the AWS SDK) was most of a cold start.
//!
//! * The upstream APIs (reqwest): Mozilla's root program, as `webpki-roots` ships it
//!   (trust anchors, nothing to parse).
//! * AWS services (the SDK): the Amazon Trust Services roots, to which every AWS service
//!   endpoint's certificate chains.
//!
//! One TLS stack: rustls with the aws-lc-rs provider, as the SDK and reqwest use it.

use std::sync::Arc;

use aws_smithy_http_client::Builder;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};

/// The Amazon Trust Services root CAs, PEM.
const AMAZON_TRUST_SERVICES_PEM: &str = include_str!("../certs/amazon-trust-services.pem");

/// The rustls configuration of the upstream clients: Mozilla's roots, safe defaults.
pub fn upstream_client_config() -> rustls::ClientConfig {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("aws-lc-rs supports the default protocol versions")
    .with_root_certificates(roots)
    .with_no_client_auth()
}

/// The AWS SDK's configuration with its HTTP client: HTTPS trusting the Amazon Trust
/// Services roots only.
pub fn with_aws_http_client(loader: aws_config::ConfigLoader) -> aws_config::ConfigLoader {
    let trust = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(AMAZON_TRUST_SERVICES_PEM.as_bytes());
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .expect("the compiled-in roots are valid PEM");
    loader.http_client(
        Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .tls_context(context)
            .build_https(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_roots_are_there() {
        assert!(upstream_client_config().alpn_protocols.is_empty());
        assert!(webpki_roots::TLS_SERVER_ROOTS.len() > 100);
        let pem = AMAZON_TRUST_SERVICES_PEM;
        assert_eq!(pem.matches("-----BEGIN CERTIFICATE-----").count(), 5);
        // Building the client parses them.
        let _ = with_aws_http_client(aws_config::defaults(aws_config::BehaviorVersion::latest()));
    }
}
