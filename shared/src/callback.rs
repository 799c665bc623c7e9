//! The callback function: the `return_url` the browser comes back to after the
//! challenge, and the merchant-driven validate.

use url::Url;

/// The return URL route: the session's reference code and its binding token.
pub const CALLBACK_ROUTE: &str = "/v1/risk/authentication/callback/{reference_code}/{binding}";

/// `{base}/v1/risk/authentication/callback/{reference_code}/{binding}`.
pub fn callback_url(base: &Url, reference_code: &str, binding: &str) -> Url {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut()
        .expect("http(s) base URLs have path segments")
        .pop_if_empty()
        .extend([
            "v1",
            "risk",
            "authentication",
            "callback",
            reference_code,
            binding,
        ]);
    url
}
