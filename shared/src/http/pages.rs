//! The browser-facing pages (the 3DS return URL's): one builder, so every page gets the
//! same policy — a per-response nonce that its one inline style and its one inline script
//! (if any) carry, and nothing else runs, loads or is styled from elsewhere. No request
//! value is ever echoed into a page; text is escaped anyway.

use axum::response::{Html, IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#1f2933}h1{font-size:1.25rem}";

/// A page: `title` (escaped here) above `body` (HTML the caller built with every value
/// escaped), and at most one script. Its Content-Security-Policy allows that script and
/// the page's style by a nonce made for this response, forms posting back to our own
/// origin only, and nothing else. Never cached, never a Referer (our return URL carries
/// a binding token).
pub fn page(status: StatusCode, title: &str, body: &str, script: Option<&str>) -> Response {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let mut response = (status, Html(document(title, body, script, &nonce))).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&policy(&nonce)).expect("a nonce is a header value"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    no_store(headers);
    response
}

fn document(title: &str, body: &str, script: Option<&str>, nonce: &str) -> String {
    let script = script
        .map(|s| format!("<script nonce=\"{nonce}\">{s}</script>"))
        .unwrap_or_default();
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{t}</title><style nonce=\"{nonce}\">{STYLE}</style></head><body><h1>{t}</h1>{body}{script}</body></html>",
        t = escape(title),
    )
}

/// Only what carries the nonce runs or styles; forms post back to our own origin.
fn policy(nonce: &str) -> String {
    format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; base-uri 'none'; form-action 'self'"
    )
}

/// A page that only says something.
pub(crate) fn message_page(status: StatusCode, title: &str, message: &str) -> Response {
    page(status, title, &format!("<p>{}</p>", escape(message)), None)
}

/// Not cached anywhere, and no Referer to the next site: our return URL carries its
/// binding token.
pub fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pages_script_and_style_carry_the_nonce_its_policy_allows() {
        let html = document("T <&>", "<p>b</p>", Some("window.x = 1;"), "n0nce");
        assert!(html.contains("<title>T &lt;&amp;&gt;</title>"));
        assert!(html.contains("<script nonce=\"n0nce\">window.x = 1;</script>"));
        assert!(html.contains("<style nonce=\"n0nce\">"));
        assert_eq!(html.matches("<script").count(), 1);
        let policy = policy("n0nce");
        assert!(policy.starts_with("default-src 'none'"));
        assert!(policy.contains("script-src 'nonce-n0nce'"));
        let response = page(StatusCode::OK, "T", "", None);
        assert!(
            response.headers()[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("'nonce-")
        );
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        assert!(!document("T", "", None, "n").contains("<script"));
    }
}
