//! The capacity model (`docs/capacity.md`) checked against `template.yaml`, so a change to
//! a plan, a limit or a route that breaks it fails here:
//!
//! * for every function and every usage plan, the plan's per-method rate times the
//!   route's timeout, summed over the function's keyed routes, stays within one tenant's
//!   share of the function's reserved concurrency (no tenant can hold a function);
//! * every keyless route has its own method limit and is behind a WAF rate rule per
//!   source, and the return URL's shape in WAF is the one the code makes;
//! * the notify function's event sources fit its reserved concurrency, and the delivery
//!   queue's redrive leaves receives to spare beyond the retry schedule's attempts;
//! * the reserved concurrencies together leave the account's unreserved minimum.
//!
//! The tables of `docs/capacity.md` are rendered here from the same numbers.

use std::collections::BTreeMap;

use gateway::events::queue::RetrySchedule;
use yaml_rust2::{Yaml, YamlLoader};

const TEMPLATE: &str = include_str!("../template.yaml");
const CAPACITY_DOC: &str = include_str!("../docs/capacity.md");

/// Concurrency an account keeps unreserved (Lambda refuses reservations past
/// its limit minus 100), with the default account limit of 1,000.
const ACCOUNT_RESERVABLE: f64 = 900.0;

/// The template, read with its parameters' defaults (`!Ref` is read as the parameter's
/// name: the YAML reader drops CloudFormation's tags).
struct Template {
    root: Yaml,
}

/// One API route of one function.
#[derive(Debug, Clone)]
struct Route {
    function: String,
    method: String,
    path: String,
    timeout_ms: f64,
    keyless: bool,
}

impl Route {
    /// How a usage plan's throttle names it (`/path/METHOD`).
    fn plan_key(&self) -> String {
        format!("{}/{}", self.path, self.method)
    }
}

impl Template {
    fn parse(text: &str) -> Self {
        let mut docs = YamlLoader::load_from_str(text).expect("template.yaml parses");
        Self {
            root: docs.remove(0),
        }
    }

    fn resources(&self) -> impl Iterator<Item = (&str, &Yaml)> {
        self.root["Resources"]
            .as_hash()
            .expect("Resources")
            .iter()
            .map(|(name, resource)| (name.as_str().unwrap(), resource))
    }

    fn resource(&self, name: &str) -> &Yaml {
        &self.root["Resources"][name]
    }

    /// A number written in place or as a parameter's default.
    fn number(&self, value: &Yaml) -> Option<f64> {
        match value {
            Yaml::Integer(n) => Some(*n as f64),
            Yaml::Real(text) => text.parse().ok(),
            Yaml::String(name) => self.number(&self.root["Parameters"][name.as_str()]["Default"]),
            _ => None,
        }
    }

    fn capacity(&self, name: &str) -> f64 {
        self.number(&self.root["Metadata"]["Capacity"][name])
            .unwrap_or_else(|| panic!("Metadata.Capacity.{name}"))
    }

    /// The function built from `binary`: its resource name and properties.
    fn function(&self, binary: &str) -> (&str, &Yaml) {
        self.resources()
            .find(|(_, r)| r["Metadata"]["BuildProperties"]["Binary"].as_str() == Some(binary))
            .map(|(name, r)| (name, &r["Properties"]))
            .unwrap_or_else(|| panic!("no function builds {binary}"))
    }

    fn reserved_concurrency(&self, binary: &str) -> f64 {
        let (_, function) = self.function(binary);
        self.number(&function["ReservedConcurrentExecutions"])
            .unwrap_or_else(|| panic!("{binary} has no reserved concurrency"))
    }

    /// Every `Api` event of every function.
    fn routes(&self) -> Vec<Route> {
        let mut routes = Vec::new();
        for binary in FUNCTIONS {
            let (_, function) = self.function(binary);
            let Some(events) = function["Events"].as_hash() else {
                continue;
            };
            for event in events
                .values()
                .filter(|e| e["Type"].as_str() == Some("Api"))
            {
                let properties = &event["Properties"];
                routes.push(Route {
                    function: binary.to_owned(),
                    method: properties["Method"].as_str().unwrap().to_ascii_uppercase(),
                    path: properties["Path"].as_str().unwrap().to_owned(),
                    timeout_ms: self
                        .number(&properties["TimeoutInMillis"])
                        .unwrap_or(f64::NAN),
                    keyless: properties["Auth"]["ApiKeyRequired"].as_bool() == Some(false),
                });
            }
        }
        routes
    }

    /// Every usage plan's per-method rates (`/path/METHOD` → requests per second).
    fn plans(&self) -> Vec<(String, BTreeMap<String, f64>)> {
        self.resources()
            .filter(|(_, r)| r["Type"].as_str() == Some("AWS::ApiGateway::UsagePlan"))
            .map(|(name, plan)| {
                let mut rates = BTreeMap::new();
                for stage in plan["Properties"]["ApiStages"]
                    .as_vec()
                    .into_iter()
                    .flatten()
                {
                    for (key, throttle) in stage["Throttle"].as_hash().into_iter().flatten() {
                        let rate = self.number(&throttle["RateLimit"]).unwrap_or(f64::NAN);
                        rates.insert(key.as_str().unwrap().to_owned(), rate);
                    }
                }
                (name.to_owned(), rates)
            })
            .collect()
    }

    /// The stage's own method limit of a route (`MethodSettings`), if it has one.
    fn method_limit(&self, route: &Route) -> Option<f64> {
        let resource_path = route.path.replace('/', "~1");
        let settings = self.resource("GatewayApi")["Properties"]["MethodSettings"].as_vec()?;
        settings
            .iter()
            .find(|s| {
                s["ResourcePath"].as_str() == Some(&format!("/{resource_path}"))
                    && s["HttpMethod"].as_str() == Some(&route.method)
            })
            .and_then(|s| self.number(&s["ThrottlingRateLimit"]))
    }

    /// The WAF web ACL's rate rules that count requests of `path` per source IP.
    fn rate_rules_over(&self, path: &str) -> Vec<String> {
        let mut rules = Vec::new();
        for (_, acl) in self
            .resources()
            .filter(|(_, r)| r["Type"].as_str() == Some("AWS::WAFv2::WebACL"))
        {
            for rule in acl["Properties"]["Rules"].as_vec().into_iter().flatten() {
                let rate = &rule["Statement"]["RateBasedStatement"];
                if rate.is_badvalue() || rate["AggregateKeyType"].as_str() != Some("IP") {
                    continue;
                }
                let scope = &rate["ScopeDownStatement"]["ByteMatchStatement"];
                let covers = scope.is_badvalue() || {
                    let needle = scope["SearchString"].as_str().unwrap_or("\u{0}");
                    match scope["PositionalConstraint"].as_str() {
                        Some("CONTAINS") => path.contains(needle),
                        Some("ENDS_WITH") => path.ends_with(needle),
                        Some("STARTS_WITH") => path.starts_with(needle),
                        Some("EXACTLY") => path == needle,
                        _ => false,
                    }
                };
                // A rule over every route counts too, but a keyless route needs its own.
                if covers && !scope.is_badvalue() {
                    rules.push(rule["Name"].as_str().unwrap_or("?").to_owned());
                }
            }
        }
        rules
    }

    fn sqs_maximum_concurrency(&self, binary: &str) -> f64 {
        let (_, function) = self.function(binary);
        function["Events"]
            .as_hash()
            .into_iter()
            .flatten()
            .filter(|(_, e)| e["Type"].as_str() == Some("SQS"))
            .map(|(name, e)| {
                self.number(&e["Properties"]["ScalingConfig"]["MaximumConcurrency"])
                    .unwrap_or_else(|| {
                        panic!("{:?}: an SQS source without MaximumConcurrency", name)
                    })
            })
            .sum()
    }
}

/// The functions behind the API, by the binary each is built from.
const FUNCTIONS: [&str; 7] = [
    "enroll",
    "check-enroll",
    "callback",
    "history",
    "notify",
    "jobs",
    "job-worker",
];

/// The card-issuance API's limit per 10 s, less a tenth for requests in flight across a
/// window's edge and for clocks.
const UPSTREAM_BUDGET_PER_10S: f64 = 900.0;

/// One tenant's worst case on one function under one plan: rate × timeout over its
/// keyed routes (instances held at once).
fn worst_case(template: &Template, rates: &BTreeMap<String, f64>, function: &str) -> f64 {
    template
        .routes()
        .iter()
        .filter(|r| r.function == function && !r.keyless)
        .map(|r| rates.get(&r.plan_key()).copied().unwrap_or(f64::INFINITY) * r.timeout_ms / 1000.0)
        .sum()
}

/// What in `text` breaks the capacity model.
fn violations(text: &str) -> Vec<String> {
    let template = Template::parse(text);
    let mut found = Vec::new();
    for route in template.routes() {
        if !(50.0..=29_000.0).contains(&route.timeout_ms) {
            found.push(format!(
                "{} {}: no TimeoutInMillis (50 to 29000)",
                route.method, route.path
            ));
        }
    }
    found.extend(plan_violations(&template));
    found.extend(keyless_violations(&template));
    found.extend(notify_violations(&template));
    found.extend(upstream_violations(&template));
    let reserved: f64 = FUNCTIONS
        .iter()
        .map(|f| template.reserved_concurrency(f))
        .sum();
    if reserved > ACCOUNT_RESERVABLE {
        found.push(format!(
            "{reserved} reserved in all, more than {ACCOUNT_RESERVABLE}"
        ));
    }
    found
}

/// Every plan names every keyed route, and keeps one tenant within its share.
fn plan_violations(template: &Template) -> Vec<String> {
    let mut found = Vec::new();
    let routes = template.routes();
    let share = template.capacity("TenantConcurrencySharePercent") / 100.0;
    let plans = template.plans();
    if plans.is_empty() {
        found.push("no usage plan".into());
    }
    for (plan, rates) in &plans {
        for route in routes.iter().filter(|r| !r.keyless) {
            if !rates.contains_key(&route.plan_key()) {
                found.push(format!("{plan}: no rate for {}", route.plan_key()));
            }
        }
        for function in FUNCTIONS {
            let allowed = share * template.reserved_concurrency(function);
            let held = worst_case(template, rates, function);
            if held > allowed {
                found.push(format!(
                    "{plan}: one tenant can hold {held:.1} instances of {function}, more than its share {allowed:.1}"
                ));
            }
        }
    }
    found
}

/// Every keyless route has a method limit of its own and a WAF rate rule over it.
fn keyless_violations(template: &Template) -> Vec<String> {
    let mut found = Vec::new();
    for route in template.routes().iter().filter(|r| r.keyless) {
        if template.method_limit(route).is_none() {
            found.push(format!(
                "{} {}: keyless without a method limit",
                route.method, route.path
            ));
        }
        if template
            .rate_rules_over(&route.path.replace(['{', '}'], "x"))
            .is_empty()
        {
            found.push(format!(
                "{} {}: keyless and behind no WAF rate rule",
                route.method, route.path
            ));
        }
    }
    found
}

/// The functions that call the card-issuance API, at their most instances times each
/// instance's ceiling, stay within the upstream's limit: the drop-in routes (enroll's
/// reserved concurrency) and the bulk jobs (the job queue's pollers) each have their
/// share, so a portfolio's job cannot take the rate the drop-in routes need. The worker's
/// reservation fits its sources (the job queue's and the dead letters' pollers).
fn upstream_violations(template: &Template) -> Vec<String> {
    let mut found = Vec::new();
    let ceiling = |binary: &str| {
        let (_, function) = template.function(binary);
        template
            .number(&function["Environment"]["Variables"]["AHRVO_MAX_REQUESTS_PER_10S"])
            .unwrap_or_else(|| panic!("{binary}: no AHRVO_MAX_REQUESTS_PER_10S"))
    };
    let (_, worker) = template.function("job-worker");
    let pollers = template
        .number(&worker["Events"]["Chunks"]["Properties"]["ScalingConfig"]["MaximumConcurrency"])
        .expect("the job queue's MaximumConcurrency");
    let drop_in = template.reserved_concurrency("enroll") * ceiling("enroll");
    let bulk = pollers * ceiling("job-worker");
    if drop_in + bulk > UPSTREAM_BUDGET_PER_10S {
        found.push(format!(
            "card issuance: enroll {drop_in} and jobs {bulk} per 10 s, more than {UPSTREAM_BUDGET_PER_10S}"
        ));
    }
    let worker_needs = template.sqs_maximum_concurrency("job-worker");
    let worker_has = template.reserved_concurrency("job-worker");
    if worker_needs > worker_has {
        found.push(format!(
            "job-worker: its sources need {worker_needs} instances, it has {worker_has}"
        ));
    }
    found
}

/// The notify function's sources fit its reservation; the redrive spares receives.
fn notify_violations(template: &Template) -> Vec<String> {
    let mut found = Vec::new();
    let notify_needs =
        template.sqs_maximum_concurrency("notify") + template.capacity("StreamConcurrency") + 1.0;
    let notify_has = template.reserved_concurrency("notify");
    if notify_needs > notify_has {
        found.push(format!(
            "notify: its sources need {notify_needs} instances, it has {notify_has}"
        ));
    }
    let schedule = template.root["Parameters"]["WebhookRetryScheduleSecs"]["Default"]
        .as_str()
        .and_then(|s| RetrySchedule::parse(s).ok())
        .expect("the default retry schedule parses");
    let receives = template
        .number(&template.root["Parameters"]["DeliveryMaxReceiveCount"]["Default"])
        .unwrap_or(0.0);
    if receives < f64::from(schedule.max_receive_count()) {
        found.push(format!(
            "DeliveryMaxReceiveCount {receives} leaves no receives to spare beyond {} attempts",
            schedule.attempts()
        ));
    }
    found
}

#[test]
fn the_template_fits_its_capacity_model() {
    assert_eq!(violations(TEMPLATE), Vec::<String>::new());
}

/// The template with one value changed (the first occurrence of `from` after `anchor`).
fn changed(anchor: &str, from: &str, to: &str) -> String {
    let at = TEMPLATE.find(anchor).unwrap_or_else(|| panic!("{anchor}")) + anchor.len();
    let offset = TEMPLATE[at..]
        .find(from)
        .unwrap_or_else(|| panic!("{from}"))
        + at;
    format!(
        "{}{}{}",
        &TEMPLATE[..offset],
        to,
        &TEMPLATE[offset + from.len()..]
    )
}

#[test]
fn a_plan_or_a_limit_changed_to_not_fit_is_caught() {
    let cases = [
        // A tenant's listings at 20 a second would hold the whole history function.
        (
            changed(
                "\"/v1/risk/authentication/GET\":",
                "RateLimit: 0.5",
                "RateLimit: 20",
            ),
            "history",
        ),
        // Fewer check-enroll instances than the default plan may hold.
        (
            changed(
                "CheckEnrollReservedConcurrency:",
                "Default: 400",
                "Default: 100",
            ),
            "check-enroll",
        ),
        // A keyed route the plan forgot.
        (
            changed("UsagePlanName", "\"/v1/events/GET\":", "\"/v1/other/GET\":"),
            "no rate for /v1/events/GET",
        ),
        // The return URL without its WAF rule.
        (
            changed(
                "- Name: ReturnUrlPerIp",
                "SearchString: /v1/risk/authentication/callback/",
                "SearchString: /nowhere/",
            ),
            "behind no WAF rate rule",
        ),
        // Deliveries allowed more batches than notify has instances.
        (
            changed("DeliveryMaximumConcurrency:", "Default: 10", "Default: 40"),
            "notify",
        ),
        // A redrive with no receive to spare: a throttle would cost an attempt.
        (
            changed("DeliveryMaxReceiveCount:", "Default: 13", "Default: 8"),
            "DeliveryMaxReceiveCount",
        ),
        // A bulk job's pollers, each at its own ceiling, past the upstream's limit
        // beside the drop-in routes: a portfolio would take their rate.
        (
            changed("JobWorkerMaximumConcurrency:", "Default: 5", "Default: 20"),
            "card issuance",
        ),
        // The job worker reserved fewer instances than its pollers.
        (
            changed(
                "JobWorkerFunction:",
                "ReservedConcurrentExecutions: 8",
                "ReservedConcurrentExecutions: 4",
            ),
            "job-worker: its sources need",
        ),
        // A route without its timeout.
        (
            changed(
                "Path: /v1/events\n",
                "TimeoutInMillis: 10000",
                "Description: none",
            ),
            "no TimeoutInMillis",
        ),
    ];
    for (template, expected) in cases {
        let found = violations(&template);
        assert!(
            found.iter().any(|v| v.contains(expected)),
            "{expected}: {found:?}"
        );
    }
}

#[test]
fn the_return_url_shape_in_waf_is_the_one_the_code_makes_and_refuses_junk() {
    let template = Template::parse(TEMPLATE);
    let in_waf = template.resource("ReturnUrlShape")["Properties"]["RegularExpressionList"][0]
        .as_str()
        .expect("the return URL's pattern");
    assert_eq!(in_waf, gateway::merchant::CALLBACK_PATH_PATTERN);
    let shape = regex::Regex::new(in_waf).unwrap();

    use gateway::secrets::SecretDocument as _;
    let keys =
        gateway::keys::GatewayKeys::parse(&gateway_tests::test_session_keys().to_string(), &())
            .unwrap();
    let binding = keys.return_url_binding("shop-a", "order-1:2.b_c");
    let base = url::Url::parse("https://gw.example/v1").unwrap();
    let session = gateway::session::SessionRef::new(
        gateway::domain::TenantId::parse("t", "shop-a").unwrap(),
        gateway::domain::ReferenceCode::parse("r", "order-1:2.b_c").unwrap(),
    );
    let real = gateway::merchant::callback_url(&base, &session, &binding);
    assert!(shape.is_match(real.path()), "{}", real.path());
    let bare = real.path().strip_prefix("/v1").unwrap();
    assert!(shape.is_match(bare), "without a stage: {bare}");

    let path = |tenant: &str, reference: &str, binding: &str| {
        format!("/v1/v1/risk/authentication/callback/{tenant}/{reference}/{binding}")
    };
    let junk = [
        path("Shop-A", "order-1", &binding),
        path("shop-a", "-order", &binding),
        path("shop-a", &"r".repeat(65), &binding),
        path("shop-a", "order-1", "not-a-token"),
        path("shop-a", "order-1", &format!("{binding}x")),
        format!("{}/extra", path("shop-a", "order-1", &binding)),
        path("shop-a", "order%201", &binding),
        "/v1/v1/risk/authentication/callback/shop-a/order-1".to_owned(),
    ];
    for path in junk {
        assert!(!shape.is_match(&path), "{path}");
    }
}

/// `docs/capacity.md`'s block between `<!-- capacity:{name} -->` and its end.
fn doc_block(name: &str) -> &'static str {
    let start = format!("<!-- capacity:{name} -->\n");
    let end = format!("<!-- /capacity:{name} -->");
    let from = CAPACITY_DOC
        .find(&start)
        .unwrap_or_else(|| panic!("docs/capacity.md has no {start}"))
        + start.len();
    let to = CAPACITY_DOC[from..].find(&end).expect("the block's end") + from;
    &CAPACITY_DOC[from..to]
}

#[test]
fn the_capacity_docs_table_is_the_templates() {
    let template = Template::parse(TEMPLATE);
    let share = template.capacity("TenantConcurrencySharePercent") / 100.0;
    let plans = template.plans();
    let (_, default_plan) = plans
        .iter()
        .find(|(name, _)| name == "TenantsUsagePlan")
        .expect("the default plan");
    let mut table = String::from(
        "| Function | Reserved concurrency | One tenant's share | Default plan, worst case |\n|---|---|---|---|\n",
    );
    for function in ["check-enroll", "enroll", "history", "jobs"] {
        let reserved = template.reserved_concurrency(function);
        table.push_str(&format!(
            "| {function} | {reserved} | {} | {:.1} |\n",
            share * reserved,
            worst_case(&template, default_plan, function)
        ));
    }
    table.push_str("\n| Route | Default plan (req/s) | Timeout (ms) | Instances held at most |\n|---|---|---|---|\n");
    for route in template.routes().iter().filter(|r| !r.keyless) {
        let rate = default_plan[&route.plan_key()];
        table.push_str(&format!(
            "| `{} {}` | {rate} | {} | {:.2} |\n",
            route.method,
            route.path,
            route.timeout_ms,
            rate * route.timeout_ms / 1000.0
        ));
    }
    assert_eq!(
        doc_block("functions"),
        table,
        "docs/capacity.md's table (left) is not the template's (right)"
    );
}
