//! The code and the documents a deployer or an integrator reads must agree: every route a
//! function serves is an event of that function in `template.yaml` (and nothing more) and
//! a row of the API reference (`docs/api.md`), whose status table lists every error code
//! with its status; the merchant guide publishes the browser library's integrity hash.

use std::collections::BTreeSet;

use gateway::error::ErrorCode;
use yaml_rust2::{Yaml, YamlLoader};

const TEMPLATE: &str = include_str!("../template.yaml");
const API_REFERENCE: &str = include_str!("../docs/api.md");
const MERCHANT_GUIDE: &str = include_str!("../docs/merchant-integration.md");

/// Every function's route table.
fn route_tables() -> Vec<(&'static str, Vec<gateway::http::routes::RouteKey>)> {
    vec![
        ("enroll", enroll::routes()),
        ("check-enroll", check_enroll::routes()),
        ("callback", callback::routes()),
        ("history", history::routes()),
        ("jobs", ::jobs::routes()),
    ]
}

/// `(METHOD, path)` of the `Api` events of the function built from `binary`.
fn template_routes(binary: &str) -> BTreeSet<(String, String)> {
    let docs = YamlLoader::load_from_str(TEMPLATE).expect("template.yaml parses");
    let resources = docs[0]["Resources"]
        .as_hash()
        .expect("template.yaml has Resources");
    let function = resources
        .values()
        .find(|r| r["Metadata"]["BuildProperties"]["Binary"].as_str() == Some(binary))
        .unwrap_or_else(|| panic!("no function builds {binary}"));
    let events = function["Properties"]["Events"]
        .as_hash()
        .expect("the function has events");
    events
        .values()
        .filter(|e| e["Type"].as_str() == Some("Api"))
        .map(|e| {
            let properties = &e["Properties"];
            let text = |y: &Yaml| y.as_str().expect("a string").to_owned();
            (
                text(&properties["Method"]).to_ascii_uppercase(),
                text(&properties["Path"]),
            )
        })
        .collect()
}

fn code_routes(routes: Vec<gateway::http::routes::RouteKey>) -> BTreeSet<(String, String)> {
    routes
        .into_iter()
        .map(|(method, path)| (method.to_string(), path.to_owned()))
        .collect()
}

#[test]
fn each_functions_route_table_is_what_the_template_routes_to_it() {
    for (binary, routes) in route_tables() {
        assert_eq!(
            code_routes(routes),
            template_routes(binary),
            "{binary}: the route table (left) and template.yaml's events (right) differ"
        );
    }
}

/// The API reference's route prefixes: a section's table names its routes after them.
const SECTION_PREFIXES: [&str; 2] = ["/card/issuance/api/issuing", "/v1/risk/authentication"];

#[test]
fn the_api_reference_has_a_row_for_every_route() {
    let rows: Vec<&str> = API_REFERENCE
        .lines()
        .filter(|line| line.starts_with('|'))
        .collect();
    for (binary, routes) in route_tables() {
        for (method, path) in routes {
            let short = SECTION_PREFIXES
                .iter()
                .filter_map(|prefix| path.strip_prefix(prefix))
                .find(|rest| !rest.is_empty())
                .unwrap_or(path);
            let named = |row: &&str| {
                let cell = row.split('|').nth(1).unwrap_or_default();
                cell.contains(method.as_str())
                    && [path, short].iter().any(|p| {
                        cell.contains(&format!("{p}`"))
                            || cell.contains(&format!("{p}?"))
                            || cell.contains(&format!("{p} "))
                    })
            };
            assert!(
                rows.iter().any(named),
                "{binary}: docs/api.md has no row for {method} {path}"
            );
        }
    }
}

/// The rows of the API reference's "Status codes" table: `(code, status)`.
fn status_table() -> Vec<(String, u16)> {
    let table = API_REFERENCE
        .split("## Status codes")
        .nth(1)
        .expect("docs/api.md has a Status codes section");
    table
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let code = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((code.to_owned(), cells.get(2)?.parse().ok()?))
        })
        .collect()
}

#[test]
fn the_api_reference_lists_every_error_code_with_its_status() {
    let rows = status_table();
    for code in ErrorCode::ALL {
        let listed: Vec<u16> = rows
            .iter()
            .filter(|(name, _)| name == code.as_str())
            .map(|(_, status)| *status)
            .collect();
        assert_eq!(
            listed,
            vec![code.status()],
            "{}: docs/api.md's status table must list it once, with its status",
            code.as_str()
        );
    }
    for (name, _) in &rows {
        assert!(
            ErrorCode::from_upstream(name).is_some(),
            "docs/api.md lists {name}, which the gateway never answers"
        );
    }
}

#[test]
fn the_merchant_guide_publishes_the_browser_librarys_integrity_hash() {
    use base64::Engine as _;
    use sha2::Digest as _;
    let digest = sha2::Sha384::digest(callback::library::GATEWAY_JS.as_bytes());
    let integrity = format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    );
    assert!(
        MERCHANT_GUIDE.contains(&format!("integrity=\"{integrity}\"")),
        "docs/merchant-integration.md's SRI hash must be {integrity}"
    );
}
