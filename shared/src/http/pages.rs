//! Minimal HTML for the browser-facing routes. No request value is ever echoed into a
//! page; text is escaped anyway.

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

/// A page in our style: `title` (escaped here) above `body`, HTML the caller built with
/// every value escaped.
pub fn shell(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{t}</title><style>{STYLE}</style></head><body><h1>{t}</h1>{body}</body></html>",
        t = escape(title),
    )
}

pub(crate) fn message_page(title: &str, message: &str) -> String {
    shell(title, &format!("<p>{}</p>", escape(message)))
}
