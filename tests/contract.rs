//! The published API contract (`docs/openapi.json`, served at `GET /v1/openapi.json`)
//! cannot drift from the code: every route a function serves is in it and nothing more,
//! each with the key of its function's role; every error code the gateway answers with is
//! in it with its status, and each route lists at least the refusals every route of its
//! kind can answer; every event type is one of its webhooks. The answers themselves are held to it by Schemathesis in the test command.

use std::collections::BTreeSet;

use gateway::error::ErrorCode;
use gateway::events::EventType;
use http::StatusCode;
use serde_json::Value;

use gateway_tests::*;

const CONTRACT: &str = include_str!("../docs/openapi.json");

fn contract() -> Value {
    serde_json::from_str(CONTRACT).expect("docs/openapi.json is JSON")
}

/// The methods an OpenAPI path item may hold.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Every operation of the contract: `(METHOD, path, operation)`.
fn operations(contract: &Value) -> Vec<(String, String, Value)> {
    let paths = contract["paths"]
        .as_object()
        .expect("the contract has paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS.iter().filter_map(move |method| {
                item.get(*method)
                    .map(|op| (method.to_ascii_uppercase(), path.clone(), op.clone()))
            })
        })
        .collect()
}

/// Each function's routes.
fn functions() -> Vec<(&'static str, Vec<gateway::http::routes::RouteKey>)> {
    vec![
        ("enroll", enroll::routes()),
        ("jobs", ::jobs::routes()),
        ("check-enroll", check_enroll::routes()),
        ("history", history::routes()),
        ("callback", ::callback::routes()),
    ]
}

/// The security schemes a route's callers present: the keys of the roles it serves. The
/// history function serves every tenant its events, and merchants their authentications.
fn roles_of(function: &str, path: &str) -> &'static [&'static str] {
    match function {
        "enroll" | "jobs" => &["issuerKey"],
        "check-enroll" => &["merchantKey"],
        "history" if path.starts_with("/v1/events") => &["merchantKey", "issuerKey"],
        "history" => &["merchantKey"],
        _ => &[],
    }
}

fn security_schemes(operation: &Value) -> BTreeSet<String> {
    operation["security"]
        .as_array()
        .unwrap_or_else(|| panic!("every operation states its security: {operation}"))
        .iter()
        .flat_map(|requirement| requirement.as_object().expect("a requirement").keys())
        .cloned()
        .collect()
}

#[test]
fn every_route_of_every_function_is_in_the_contract_and_nothing_else() {
    let contract = contract();
    let documented: BTreeSet<(String, String)> = operations(&contract)
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();
    let served: BTreeSet<(String, String)> = functions()
        .into_iter()
        .flat_map(|(_, routes)| routes)
        .map(|(method, path)| (method.to_string(), path.to_owned()))
        .collect();
    let missing: Vec<_> = served.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&served).collect();
    assert!(
        missing.is_empty(),
        "routes missing from docs/openapi.json: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "docs/openapi.json documents routes no function serves: {extra:?}"
    );
}

#[test]
fn each_route_asks_for_the_key_of_its_functions_role() {
    let contract = contract();
    let schemes = contract["components"]["securitySchemes"]
        .as_object()
        .expect("the contract declares its security schemes");
    for scheme in ["merchantKey", "issuerKey"] {
        assert_eq!(schemes[scheme]["type"], "apiKey", "{scheme}");
        assert_eq!(schemes[scheme]["in"], "header", "{scheme}");
        assert_eq!(schemes[scheme]["name"], "x-api-key", "{scheme}");
    }
    let operations = operations(&contract);
    for (function, routes) in functions() {
        for (method, path) in routes {
            let expected: BTreeSet<String> = roles_of(function, path)
                .iter()
                .map(|r| (*r).to_owned())
                .collect();
            let (_, _, operation) = operations
                .iter()
                .find(|(m, p, _)| *m == method.as_str() && p == path)
                .unwrap_or_else(|| panic!("{method} {path} is not in the contract"));
            assert_eq!(
                security_schemes(operation),
                expected,
                "{function}: {method} {path} must ask for the key of its role"
            );
            let keyed = !expected.is_empty();
            let responses = operation["responses"].as_object().expect("responses");
            assert_eq!(
                responses.contains_key("401"),
                keyed,
                "{method} {path}: a keyed route documents its 401, a keyless one has none"
            );
        }
    }
}

/// The codes an operation says it answers with (`x-error-codes`).
fn error_codes(operation: &Value) -> Vec<String> {
    operation["x-error-codes"]
        .as_array()
        .map(|codes| {
            codes
                .iter()
                .map(|c| c.as_str().expect("a code name").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_error_code_is_in_the_contract_with_the_routes_that_answer_it() {
    let contract = contract();
    let enumerated: Vec<&str> = contract["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("the contract enumerates the error codes")
        .iter()
        .map(|c| c.as_str().expect("a code name"))
        .collect();
    let known: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(
        enumerated, known,
        "the contract's ErrorCode enum, in the code's order"
    );

    let operations = operations(&contract);
    for code in ErrorCode::ALL {
        assert!(
            operations
                .iter()
                .any(|(_, _, op)| error_codes(op).iter().any(|c| c == code.as_str())),
            "{}: no route of the contract answers with it",
            code.as_str()
        );
    }
    for (method, path, operation) in &operations {
        let responses = operation["responses"].as_object().expect("responses");
        for name in error_codes(operation) {
            let code = ErrorCode::ALL
                .iter()
                .find(|c| c.as_str() == name)
                .unwrap_or_else(|| panic!("{method} {path}: {name} is not an error code"));
            assert!(
                responses.contains_key(&code.status().to_string()),
                "{method} {path} answers {name} but documents no {} response",
                code.status()
            );
        }
    }
}

/// What every route of a kind answers, whatever it does: a JSON body can be malformed or too
/// large, a path parameter not UTF-8, a key missing. A route that forgets one in the
/// contract would surprise a client on its first bad request.
#[test]
fn each_route_lists_the_refusals_every_route_of_its_kind_can_answer() {
    let contract = contract();
    for (method, path, operation) in operations(&contract) {
        let codes = error_codes(&operation);
        let mut expected = Vec::new();
        if operation["requestBody"]["content"]
            .get("application/json")
            .is_some()
        {
            expected.extend([ErrorCode::MalformedJson, ErrorCode::PayloadTooLarge]);
        }
        if path.contains('{') {
            expected.push(ErrorCode::InvalidParameter);
        }
        if !security_schemes(&operation).is_empty() {
            expected.push(ErrorCode::Unauthorized);
        }
        for code in expected {
            assert!(
                codes.iter().any(|c| c == code.as_str()),
                "{method} {path} can answer {} but does not list it",
                code.as_str()
            );
        }
    }
}

#[test]
fn every_event_type_is_a_webhook_of_the_contract() {
    let contract = contract();
    let enumerated: BTreeSet<&str> = contract["components"]["schemas"]["EventType"]["enum"]
        .as_array()
        .expect("the contract enumerates the event types")
        .iter()
        .map(|t| t.as_str().expect("an event type"))
        .collect();
    let known: BTreeSet<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(enumerated, known, "the contract's EventType enum");
    let webhooks = contract["webhooks"]
        .as_object()
        .expect("the contract has webhooks");
    for event_type in EventType::ALL {
        let delivery = &webhooks
            .get(event_type.as_str())
            .unwrap_or_else(|| panic!("{}: not a webhook of the contract", event_type.as_str()))["post"];
        let headers: BTreeSet<&str> = delivery["parameters"]
            .as_array()
            .expect("a webhook's headers")
            .iter()
            .filter(|p| p["in"] == "header" && p["required"] == true)
            .map(|p| p["name"].as_str().expect("a name"))
            .collect();
        assert_eq!(
            headers,
            BTreeSet::from(["webhook-id", "webhook-timestamp", "webhook-signature"]),
            "{}: the Standard Webhooks headers",
            event_type.as_str()
        );
    }
}

#[tokio::test]
async fn the_contract_is_served_keyless_as_it_is_kept() {
    let h = Harness::new().await;
    let answer = send(&h.callback().await, get("/v1/openapi.json", None)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.header("access-control-allow-origin"), Some("*"));
    assert_eq!(answer.header("cache-control"), Some("public, max-age=300"));
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(answer.text(), CONTRACT);
    assert_eq!(answer.json()["openapi"], "3.1.0");
}
