//! Golden cases for resource-policy evaluation: every condition operator, ARN wildcards,
//! explicit deny over allow, missing keys, the reference scenario's policy in both of its
//! usual forms, the silent-policy switch, lints and load errors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code: a panic is the failure report

use std::sync::Arc;
use std::time::Duration;

use b2b_auth_policy::{
    Api, Decision, Effect, LintKind, PolicyErrorKind, Reason, RequestContext, ResourcePolicy,
    SilentPolicy,
};
use b2b_auth_testkit::ManualClock;
use serde_json::json;

fn api() -> Api {
    Api::new("eu-west-1", "111122223333", "tires").unwrap().with_stage("prod").unwrap()
}

fn policy(document: serde_json::Value) -> ResourcePolicy {
    ResourcePolicy::parse(&document.to_string(), api()).unwrap()
}

/// A one-statement Allow policy on every resource with this condition block.
fn allow_if(condition: serde_json::Value) -> ResourcePolicy {
    policy(json!({
        "Version": "2012-10-17",
        "Statement": {"Sid": "Cond", "Effect": "Allow", "Principal": "*",
                      "Action": "execute-api:Invoke", "Resource": "*", "Condition": condition}
    }))
}

fn get(path: &str) -> RequestContext<'_> {
    RequestContext::new("GET", path)
}

fn allowed(policy: &ResourcePolicy, ctx: &RequestContext<'_>) -> bool {
    let decision = policy.evaluate(ctx);
    assert!(
        matches!(decision.reason(), Reason::ExplicitAllow | Reason::ImplicitDeny),
        "{decision}"
    );
    decision.is_allowed()
}

/// Whether the single condition holds for a request with `keys`.
fn holds(condition: serde_json::Value, keys: &[(&str, &str)]) -> bool {
    let policy = allow_if(condition);
    let ctx = keys.iter().fold(get("/"), |ctx, (k, v)| ctx.key(k, v));
    allowed(&policy, &ctx)
}

#[test]
fn string_operators() {
    let k = |v: &'static str| vec![("b2b:Team", v)];
    assert!(holds(json!({"StringEquals": {"b2b:Team": ["a", "b"]}}), &k("b")));
    assert!(!holds(json!({"StringEquals": {"b2b:Team": "a"}}), &k("A")));
    assert!(holds(json!({"StringNotEquals": {"b2b:Team": ["a", "b"]}}), &k("c")));
    assert!(!holds(json!({"StringNotEquals": {"b2b:Team": ["a", "b"]}}), &k("a")));
    assert!(holds(json!({"StringEqualsIgnoreCase": {"b2b:Team": "Tires"}}), &k("tIRES")));
    assert!(holds(json!({"StringEqualsIgnoreCase": {"b2b:Team": "ÉTÉ"}}), &k("été")));
    assert!(!holds(json!({"StringNotEqualsIgnoreCase": {"b2b:Team": "Tires"}}), &k("TIRES")));
    assert!(holds(json!({"StringLike": {"b2b:Team": "ti?es*"}}), &k("tires/eu")));
    assert!(!holds(json!({"StringLike": {"b2b:Team": "ti?es"}}), &k("Tires")));
    assert!(holds(json!({"StringNotLike": {"b2b:Team": ["car*", "x"]}}), &k("tires")));
    assert!(!holds(json!({"StringNotLike": {"b2b:Team": ["car*", "x"]}}), &k("cars")));
}

#[test]
fn condition_keys_are_case_insensitive_values_are_not() {
    assert!(holds(json!({"StringEquals": {"B2B:TEAM": "a"}}), &[("b2b:team", "a")]));
    assert!(!holds(json!({"StringEquals": {"b2b:team": "a"}}), &[("b2b:team", "A")]));
}

#[test]
fn numeric_operators() {
    let n = |v: &'static str| vec![("b2b:Count", v)];
    assert!(holds(json!({"NumericEquals": {"b2b:Count": "10"}}), &n("10.0")));
    assert!(holds(json!({"NumericEquals": {"b2b:Count": 10}}), &n("10")));
    assert!(holds(json!({"NumericNotEquals": {"b2b:Count": ["1", "2"]}}), &n("3")));
    assert!(!holds(json!({"NumericNotEquals": {"b2b:Count": ["1", "2"]}}), &n("2")));
    assert!(holds(json!({"NumericLessThan": {"b2b:Count": "10"}}), &n("9.5")));
    assert!(!holds(json!({"NumericLessThan": {"b2b:Count": "10"}}), &n("10")));
    assert!(holds(json!({"NumericLessThanEquals": {"b2b:Count": "10"}}), &n("10")));
    assert!(holds(json!({"NumericGreaterThan": {"b2b:Count": "-1"}}), &n("0")));
    assert!(!holds(json!({"NumericGreaterThan": {"b2b:Count": "1"}}), &n("1")));
    assert!(holds(json!({"NumericGreaterThanEquals": {"b2b:Count": "1"}}), &n("1")));
    // A request value that is not a number matches nothing.
    assert!(!holds(json!({"NumericGreaterThan": {"b2b:Count": "1"}}), &n("lots")));
    assert!(holds(json!({"NumericNotEquals": {"b2b:Count": "1"}}), &n("lots")));
}

#[test]
fn date_operators_against_the_clock_and_explicit_times() {
    let clock = ManualClock::at_unix(1_800_000_000); // 2027-01-15T08:00:00Z
    let document = |op: &str, date: &str| {
        json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*",
                             "Condition": {op: {"aws:CurrentTime": date}}}})
        .to_string()
    };
    let evaluate = |op: &str, date: &str| {
        let policy = ResourcePolicy::builder(api())
            .clock(Arc::new(clock.clone()))
            .parse(&document(op, date))
            .unwrap();
        policy.evaluate(&get("/")).is_allowed()
    };
    assert!(evaluate("DateLessThan", "2027-01-15T08:00:01Z"));
    assert!(!evaluate("DateLessThan", "2027-01-15T08:00:00Z"));
    assert!(evaluate("DateLessThanEquals", "2027-01-15T08:00:00Z"));
    assert!(evaluate("DateEquals", "2027-01-15T09:00:00+01:00"));
    assert!(evaluate("DateNotEquals", "2027-01-15T08:00:01Z"));
    assert!(evaluate("DateGreaterThan", "1799999999"));
    assert!(evaluate("DateGreaterThanEquals", "1800000000"));
    assert!(!evaluate("DateGreaterThan", "2027-01-15T08:00:00Z"));

    // The clock is read at evaluation time, not at load time.
    let policy = ResourcePolicy::builder(api())
        .clock(Arc::new(clock.clone()))
        .parse(&document("DateLessThan", "2027-01-15T08:01:00Z"))
        .unwrap();
    assert!(policy.evaluate(&get("/")).is_allowed());
    clock.advance(Duration::from_secs(60));
    assert!(!policy.evaluate(&get("/")).is_allowed());

    // A context value replaces the clock; aws:EpochTime takes numeric operators too.
    assert!(
        !policy.evaluate(&get("/").key("aws:CurrentTime", "2030-01-01T00:00:00Z")).is_allowed()
    );
    assert!(holds(
        json!({"NumericLessThan": {"aws:EpochTime": "100"}}),
        &[("aws:EpochTime", "99")]
    ));
}

#[test]
fn bool_and_null_operators() {
    assert!(holds(
        json!({"Bool": {"aws:SecureTransport": "true"}}),
        &[("aws:SecureTransport", "TRUE")]
    ));
    assert!(holds(
        json!({"Bool": {"aws:SecureTransport": true}}),
        &[("aws:SecureTransport", "true")]
    ));
    assert!(!holds(
        json!({"Bool": {"aws:SecureTransport": "true"}}),
        &[("aws:SecureTransport", "false")]
    ));
    assert!(!holds(
        json!({"Bool": {"aws:SecureTransport": "true"}}),
        &[("aws:SecureTransport", "yes")]
    ));
    assert!(!holds(json!({"Bool": {"aws:SecureTransport": "true"}}), &[]));
    assert!(holds(json!({"Null": {"b2b:Team": "true"}}), &[]));
    assert!(!holds(json!({"Null": {"b2b:Team": "true"}}), &[("b2b:Team", "x")]));
    assert!(holds(json!({"Null": {"b2b:Team": "false"}}), &[("b2b:Team", "x")]));
    assert!(!holds(json!({"Null": {"b2b:Team": "false"}}), &[]));
}

#[test]
fn ip_operators_name_the_matched_cidr() {
    let policy =
        allow_if(json!({"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:db8::/32"]}}));
    let decision = policy.evaluate(&get("/").source_ip("::ffff:192.0.2.9".parse().unwrap()));
    assert!(decision.is_allowed());
    assert_eq!(decision.matched_cidr(), Some("192.0.2.0/24".parse().unwrap()));
    let decision = policy.evaluate(&get("/").source_ip("2001:db8::1".parse().unwrap()));
    assert_eq!(decision.matched_cidr(), Some("2001:db8::/32".parse().unwrap()));
    assert!(!policy.evaluate(&get("/").source_ip("198.51.100.1".parse().unwrap())).is_allowed());

    let not = allow_if(json!({"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}));
    assert!(not.evaluate(&get("/").source_ip("198.51.100.1".parse().unwrap())).is_allowed());
    assert!(!not.evaluate(&get("/").source_ip("192.0.2.1".parse().unwrap())).is_allowed());
}

#[test]
fn missing_keys_make_conditions_false_except_negated_ifexists_and_forallvalues() {
    let cases = [
        (json!({"StringEquals": {"b2b:Team": "a"}}), false),
        (json!({"StringLike": {"b2b:Team": "*"}}), false),
        (json!({"NumericEquals": {"b2b:Count": "1"}}), false),
        (json!({"DateLessThan": {"b2b:When": "2030-01-01T00:00:00Z"}}), false),
        (json!({"IpAddress": {"aws:SourceIp": "0.0.0.0/1"}}), false),
        (json!({"StringNotEquals": {"b2b:Team": "a"}}), true),
        (json!({"StringNotLike": {"b2b:Team": "a*"}}), true),
        (json!({"NumericNotEquals": {"b2b:Count": "1"}}), true),
        (json!({"DateNotEquals": {"b2b:When": "1"}}), true),
        (json!({"NotIpAddress": {"aws:SourceIp": "0.0.0.0/1"}}), true),
        (json!({"StringEqualsIfExists": {"b2b:Team": "a"}}), true),
        (json!({"NumericLessThanIfExists": {"b2b:Count": "1"}}), true),
        (json!({"IpAddressIfExists": {"aws:SourceIp": "192.0.2.0/24"}}), true),
        (json!({"BoolIfExists": {"aws:SecureTransport": "true"}}), true),
        (json!({"ForAllValues:StringEquals": {"b2b:Tags": "a"}}), true),
        (json!({"ForAnyValue:StringEquals": {"b2b:Tags": "a"}}), false),
        (json!({"ForAnyValue:StringNotEquals": {"b2b:Tags": "a"}}), false),
        (json!({"ForAnyValue:StringEqualsIfExists": {"b2b:Tags": "a"}}), true),
    ];
    for (condition, expected) in cases {
        assert_eq!(holds(condition.clone(), &[]), expected, "{condition}");
    }
}

#[test]
fn ifexists_still_checks_a_present_key() {
    assert!(!holds(json!({"StringEqualsIfExists": {"b2b:Team": "a"}}), &[("b2b:Team", "b")]));
    assert!(holds(json!({"StringEqualsIfExists": {"b2b:Team": "a"}}), &[("b2b:Team", "a")]));
    let policy = allow_if(json!({"IpAddressIfExists": {"aws:SourceIp": "192.0.2.0/24"}}));
    assert!(!policy.evaluate(&get("/").source_ip("198.51.100.1".parse().unwrap())).is_allowed());
}

#[test]
fn set_qualifiers_on_multivalued_keys() {
    let tags =
        |values: &[&'static str]| values.iter().map(|v| ("b2b:Tags", *v)).collect::<Vec<_>>();
    let all = json!({"ForAllValues:StringEquals": {"b2b:Tags": ["a", "b"]}});
    assert!(holds(all.clone(), &tags(&["a", "b", "a"])));
    assert!(!holds(all, &tags(&["a", "c"])));
    let any = json!({"ForAnyValue:StringEquals": {"b2b:Tags": ["a", "b"]}});
    assert!(holds(any.clone(), &tags(&["c", "b"])));
    assert!(!holds(any, &tags(&["c", "d"])));
    let all_not = json!({"ForAllValues:StringNotEquals": {"b2b:Tags": ["a"]}});
    assert!(holds(all_not.clone(), &tags(&["b", "c"])));
    assert!(!holds(all_not, &tags(&["b", "a"])));
    let any_not = json!({"ForAnyValue:StringNotEquals": {"b2b:Tags": ["a"]}});
    assert!(holds(any_not.clone(), &tags(&["a", "b"])));
    assert!(!holds(any_not, &tags(&["a", "a"])));
    // Unqualified on a multivalued key: any value for a positive operator, none for a negated.
    assert!(holds(json!({"StringEquals": {"b2b:Tags": "a"}}), &tags(&["x", "a"])));
    assert!(!holds(json!({"StringNotEquals": {"b2b:Tags": "a"}}), &tags(&["x", "a"])));
}

#[test]
fn several_keys_and_operators_are_anded_values_ored() {
    let condition = json!({
        "StringEquals": {"b2b:Team": ["a", "b"], "b2b:Env": "prod"},
        "IpAddress": {"aws:SourceIp": "192.0.2.0/24"}
    });
    let policy = allow_if(condition);
    let ip = "192.0.2.1".parse().unwrap();
    let full = get("/").source_ip(ip).key("b2b:Team", "b").key("b2b:Env", "prod");
    assert!(policy.evaluate(&full).is_allowed());
    let wrong_env = get("/").source_ip(ip).key("b2b:Team", "b").key("b2b:Env", "dev");
    let decision = policy.evaluate(&wrong_env);
    assert!(!decision.is_allowed());
    assert_eq!(decision.failed_condition().unwrap().key(), "b2b:Env");
    let no_ip = get("/").key("b2b:Team", "b").key("b2b:Env", "prod");
    assert_eq!(policy.evaluate(&no_ip).failed_condition().unwrap().operator(), "IpAddress");
}

fn on_resources(resources: serde_json::Value) -> ResourcePolicy {
    policy(json!({"Statement": {"Effect": "Allow", "Principal": "*",
                                "Action": "execute-api:Invoke", "Resource": resources}}))
}

#[test]
fn arn_wildcards() {
    let arn = "arn:aws:execute-api:eu-west-1:111122223333:tires";
    let get_star = on_resources(json!(format!("{arn}/prod/GET/*")));
    assert!(allowed(&get_star, &get("/a/b")));
    assert!(allowed(&get_star, &get("/")));
    assert!(!allowed(&get_star, &RequestContext::new("POST", "/a")));
    assert!(!allowed(&get_star, &get("/a").stage("dev")));

    let stats = on_resources(json!(format!("{arn}/prod/GET/*/stats")));
    assert!(!allowed(&stats, &get("/dinosaurs/all-stats")));
    assert!(allowed(&stats, &get("/dinosaurs/stats")));
    assert!(allowed(&stats, &get("/dinosaurs/x/stats")));

    let question = on_resources(json!(format!("{arn}/prod/GET/orders/?")));
    assert!(allowed(&question, &get("/orders/7")));
    assert!(!allowed(&question, &get("/orders/42")));

    let any_method = on_resources(json!(format!("{arn}/*/*/orders")));
    assert!(allowed(&any_method, &RequestContext::new("DELETE", "/orders").stage("dev")));

    // Case-sensitive paths and methods.
    let exact = on_resources(json!(format!("{arn}/prod/GET/Orders")));
    assert!(!allowed(&exact, &get("/orders")));
    assert!(!allowed(&exact, &RequestContext::new("get", "/Orders")));
    assert!(allowed(&exact, &get("/Orders")));

    // Wildcards in the fixed parts of the ARN.
    let any_region = on_resources(json!("arn:aws:execute-api:*:111122223333:tires/*"));
    assert!(allowed(&any_region, &get("/x")));
    let other_account = on_resources(json!("arn:aws:execute-api:*:999999999999:tires/*"));
    assert!(!allowed(&other_account, &get("/x")));
}

#[test]
fn abbreviated_resources_are_completed_from_the_api() {
    let policy =
        on_resources(json!(["execute-api:/prod/POST/orders", "execute-api:/*/GET/orders/*"]));
    assert!(allowed(&policy, &RequestContext::new("POST", "/orders")));
    assert!(!allowed(&policy, &RequestContext::new("POST", "/orders/1")));
    assert!(allowed(&policy, &get("/orders/1").stage("test")));
    assert_eq!(
        api().request_arn(Some("test"), "GET", "/orders/1"),
        "arn:aws:execute-api:eu-west-1:111122223333:tires/test/GET/orders/1"
    );
}

#[test]
fn not_action_not_resource_not_principal() {
    let document = json!({"Statement": [
        {"Sid": "NotAdmin", "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
         "NotResource": "execute-api:/*/*/admin/*"},
        {"Sid": "NoCacheFlush", "Effect": "Deny", "Principal": "*",
         "NotAction": "execute-api:Invoke", "Resource": "*"},
        {"Sid": "OnlyOps", "Effect": "Deny", "NotPrincipal": {"AWS": ["ops"]}, "Action": "*",
         "Resource": "execute-api:/*/DELETE/*"}
    ]});
    let policy = policy(document);
    assert!(allowed(&policy, &get("/orders")));
    assert!(!allowed(&policy, &get("/admin/users")));
    let flush = get("/orders").action("execute-api:InvalidateCache");
    assert_eq!(policy.evaluate(&flush).reason(), &Reason::ExplicitDeny);
    let delete = |who: Option<&'static str>| {
        let ctx = RequestContext::new("DELETE", "/orders/1");
        let ctx = match who {
            Some(p) => ctx.principal(p),
            None => ctx,
        };
        policy.evaluate(&ctx)
    };
    assert_eq!(delete(Some("car-orders")).reason(), &Reason::ExplicitDeny);
    assert_eq!(delete(None).reason(), &Reason::ExplicitDeny);
    assert!(delete(Some("ops")).is_allowed());
    assert!(!policy.lints().iter().any(|l| l.kind() == &LintKind::NotPrincipalWithAllow));
}

#[test]
fn actions_are_case_insensitive_with_wildcards() {
    let policy = policy(json!({"Statement": {"Effect": "Allow", "Principal": "*",
                                            "Action": ["EXECUTE-API:inv*"], "Resource": "*"}}));
    assert!(allowed(&policy, &get("/")));
    assert!(!allowed(&policy, &get("/").action("execute-api:ManageConnections")));
}

#[test]
fn principals_match_exact_ids() {
    let policy = policy(json!({"Statement": {"Effect": "Allow",
        "Principal": {"AWS": ["car-orders", "arn:aws:iam::111122223333:root"]},
        "Action": "execute-api:Invoke", "Resource": "*"}}));
    assert!(allowed(&policy, &get("/").principal("car-orders")));
    assert!(allowed(&policy, &get("/").principal("arn:aws:iam::111122223333:root")));
    assert!(!allowed(&policy, &get("/").principal("car-orders2")));
    assert!(!allowed(&policy, &get("/")));
    let star = policy_with_principal(json!({"AWS": "*"}));
    assert!(allowed(&star, &get("/")));
}

fn policy_with_principal(principal: serde_json::Value) -> ResourcePolicy {
    policy(json!({"Statement": {"Effect": "Allow", "Principal": principal,
                                "Action": "execute-api:Invoke", "Resource": "*"}}))
}

#[test]
fn explicit_deny_wins_whatever_the_order() {
    let allow = json!({"Sid": "Allow", "Effect": "Allow", "Principal": "*",
                       "Action": "execute-api:Invoke", "Resource": "*"});
    let deny = json!({"Sid": "DenyAdmin", "Effect": "Deny", "Principal": "*",
                      "Action": "execute-api:Invoke", "Resource": "execute-api:/*/*/admin"});
    for statements in [json!([allow, deny]), json!([deny, allow])] {
        let policy = policy(json!({"Statement": statements}));
        let decision = policy.evaluate(&get("/admin"));
        assert_eq!(decision.effect(), Effect::Deny);
        assert_eq!(decision.reason(), &Reason::ExplicitDeny);
        assert_eq!(decision.statement().unwrap().sid(), Some("DenyAdmin"));
        assert!(policy.evaluate(&get("/orders")).is_allowed());
    }
}

#[test]
fn implicit_deny_names_the_nearest_miss() {
    let policy = policy(json!({"Statement": [
        {"Sid": "Other", "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
         "Resource": "execute-api:/prod/GET/health"},
        {"Sid": "Partner", "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
         "Resource": "execute-api:/*", "Condition": {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}}
    ]}));
    let decision = policy.evaluate(&get("/orders").source_ip("203.0.113.1".parse().unwrap()));
    assert_eq!(decision.reason(), &Reason::ImplicitDeny);
    assert_eq!(decision.statement().unwrap().sid(), Some("Partner"));
    assert_eq!(decision.failed_condition().unwrap().to_string(), "IpAddress aws:SourceIp");
    assert_eq!(
        decision.to_string(),
        "deny: no statement allows the request by statement \"Partner\", condition IpAddress aws:SourceIp not met"
    );
    // Nothing even came close: no statement named.
    let decision = policy.evaluate(&RequestContext::new("POST", "/x").action("execute-api:Other"));
    assert_eq!(decision.statement(), None);
}

/// The seed's policy: allow `execute-api:Invoke` on the API from the manufacturer's IPs only.
const SEED_ALLOW_FORM: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Sid": "ManufacturerEgressOnly",
    "Effect": "Allow",
    "Principal": "*",
    "Action": "execute-api:Invoke",
    "Resource": "arn:aws:execute-api:eu-west-1:111122223333:tires/*",
    "Condition": {"IpAddress": {"aws:SourceIp": ["127.0.0.2/32", "198.51.100.0/28"]}}
  }]
}"#;

/// The same intent, in the form AWS recommends next to an authorizer: allow all, deny the rest.
const SEED_DENY_FORM: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
     "Resource": "arn:aws:execute-api:eu-west-1:111122223333:tires/*"},
    {"Sid": "DenyOutsideEgress", "Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
     "Resource": "arn:aws:execute-api:eu-west-1:111122223333:tires/*",
     "Condition": {"NotIpAddress": {"aws:SourceIp": ["127.0.0.2/32", "198.51.100.0/28"]}}}
  ]
}"#;

#[test]
fn seed_policy_in_both_forms() {
    for (form, deny_reason) in
        [(SEED_ALLOW_FORM, Reason::ImplicitDeny), (SEED_DENY_FORM, Reason::ExplicitDeny)]
    {
        let policy = ResourcePolicy::parse(form, api()).unwrap();
        let check = |ip: &str| -> Decision {
            policy.evaluate(
                &RequestContext::new("POST", "/orders")
                    .source_ip(ip.parse().unwrap())
                    .principal("car-orders"),
            )
        };
        for inside in ["127.0.0.2", "198.51.100.15", "::ffff:127.0.0.2"] {
            assert!(check(inside).is_allowed(), "{inside}");
        }
        for outside in ["127.0.0.3", "198.51.100.16", "::1"] {
            let decision = check(outside);
            assert!(!decision.is_allowed(), "{outside}");
            assert_eq!(decision.reason(), &deny_reason);
        }
        // Without a source address the allow form has nothing to match and the deny form's
        // NotIpAddress holds: both refuse.
        assert!(!policy.evaluate(&RequestContext::new("POST", "/orders")).is_allowed());
    }
}

#[test]
fn silent_policy_switch() {
    let document = json!({"Statement": [
        {"Sid": "DenyOutside", "Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
         "Resource": "*", "Condition": {"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}}
    ]})
    .to_string();
    let strict = ResourcePolicy::parse(&document, api()).unwrap();
    let lenient = ResourcePolicy::builder(api())
        .silent_policy(SilentPolicy::AllowAuthenticated)
        .parse(&document)
        .unwrap();
    let inside = "192.0.2.1".parse().unwrap();
    let with_token = get("/").source_ip(inside).principal("car-orders");
    let anonymous = get("/").source_ip(inside);
    assert_eq!(strict.evaluate(&with_token).reason(), &Reason::ImplicitDeny);
    assert_eq!(lenient.evaluate(&with_token).reason(), &Reason::DeferredToToken);
    assert!(lenient.evaluate(&with_token).is_allowed());
    assert!(!lenient.evaluate(&anonymous).is_allowed());
    // An explicit deny still wins over the token.
    let outside = get("/").source_ip("203.0.113.1".parse().unwrap()).principal("car-orders");
    assert_eq!(lenient.evaluate(&outside).reason(), &Reason::ExplicitDeny);
}

#[test]
fn non_canonical_paths_are_denied_before_matching() {
    let policy = on_resources(json!("execute-api:/prod/GET/public/*"));
    for path in
        ["/public/../admin", "/public//x", "/public/%2e%2e/admin", "/public%2Fx", "public/x"]
    {
        let decision = policy.evaluate(&get(path));
        assert!(matches!(decision.reason(), Reason::InvalidPath(_)), "{path}: {decision}");
    }
}

#[test]
fn lints_flag_footguns() {
    let document = json!({"Statement": [
        {"Sid": "NotPrincipal", "Effect": "Allow", "NotPrincipal": {"AWS": "x"}, "Action": "*",
         "Resource": "execute-api:/prod/GET/a"},
        {"Sid": "AllValues", "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "execute-api:/prod/GET/b",
         "Condition": {"ForAllValues:StringEquals": {"b2b:Tags": "a"}}},
        {"Sid": "NotIp", "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "execute-api:/prod/GET/c",
         "Condition": {"NotIpAddress": {"aws:SourceIp": ["0.0.0.0/0", "10.0.0.1/8"]}}},
        {"Sid": "Wide", "Effect": "Allow", "Principal": "*", "Action": "execute-api:*", "Resource": "execute-api:/prod/*"},
        {"Sid": "Narrow", "Effect": "Allow", "Principal": {"AWS": "car-orders"}, "Action": "execute-api:Invoke",
         "Resource": "execute-api:/prod/POST/orders"},
        {"Sid": "Elsewhere", "Effect": "Deny", "Principal": "*", "Action": "*",
         "Resource": "arn:aws:execute-api:us-east-1:111122223333:tires/*"},
        {"Sid": "OtherApi", "Effect": "Deny", "Principal": "*", "Action": "*",
         "Resource": "execute-api:/*", "Condition": {"Bool": {"b2b:Never": "true"}}},
    ]});
    let mut document = document;
    // The last statement names another API id.
    document["Statement"][6]["Resource"] =
        json!("arn:aws:execute-api:eu-west-1:111122223333:cars/*");
    let policy = policy(document);
    let lints: Vec<_> = policy
        .lints()
        .iter()
        .map(|l| (l.statement().sid().unwrap().to_owned(), l.kind().clone()))
        .collect();
    let has = |sid: &str, pred: &dyn Fn(&LintKind) -> bool| {
        lints.iter().any(|(s, k)| s == sid && pred(k))
    };
    assert!(has("NotPrincipal", &|k| k == &LintKind::NotPrincipalWithAllow));
    assert!(has("AllValues", &|k| matches!(k, LintKind::ForAllValuesWithAllow { .. })));
    assert!(has("NotIp", &|k| matches!(k, LintKind::AllowWithoutSourceIp { .. })));
    assert!(has(
        "NotIp",
        &|k| matches!(k, LintKind::Cidr(w) if w.to_string().contains("matches every address"))
    ));
    assert!(has(
        "NotIp",
        &|k| matches!(k, LintKind::Cidr(w) if w.to_string().contains("host bits set"))
    ));
    assert!(has("Narrow", &|k| matches!(k, LintKind::Shadowed { by } if by.sid() == Some("Wide"))));
    assert!(has("Elsewhere", &|k| matches!(k, LintKind::ForeignResource { .. })));
    assert!(has("OtherApi", &|k| matches!(k, LintKind::ForeignResource { .. })));
    assert!(!has("Wide", &|_| true), "{lints:?}");

    let deny_shadows = policy_lints(json!({"Statement": [
        {"Sid": "A", "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/prod/GET/x"},
        {"Sid": "D", "Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}
    ]}));
    assert!(deny_shadows.iter().any(|(s, k)| s == "A" && matches!(k, LintKind::Shadowed { .. })));
    let twins = policy_lints(json!({"Statement": [
        {"Sid": "A", "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
        {"Sid": "B", "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}
    ]}));
    assert_eq!(twins.len(), 1, "{twins:?}");
    assert_eq!(twins[0].0, "B");
}

fn policy_lints(document: serde_json::Value) -> Vec<(String, LintKind)> {
    policy(document)
        .lints()
        .iter()
        .map(|l| (l.statement().sid().unwrap().to_owned(), l.kind().clone()))
        .collect()
}

#[test]
fn load_errors_are_typed_and_name_the_statement() {
    let err = |document: &str| ResourcePolicy::parse(document, api()).unwrap_err();
    let statement = |body: serde_json::Value| {
        json!({"Statement": [{"Sid": "Ok", "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}, body]}).to_string()
    };
    let base = || json!({"Sid": "Bad", "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"});
    let with = |key: &str, value: serde_json::Value| {
        let mut body = base();
        body[key] = value;
        statement(body)
    };
    let cases: Vec<(String, PolicyErrorKind)> = vec![
        ("not json".into(), PolicyErrorKind::Json),
        (r#"{"Statement": []}"#.into(), PolicyErrorKind::MissingElement),
        (r#"{"Version": "2020-01-01", "Statement": []}"#.into(), PolicyErrorKind::UnsupportedVersion),
        (r#"{"Statement": {"Effect": "Allow", "Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}}"#.into(), PolicyErrorKind::Json),
        (r#"{"Statement": [], "Extra": 1}"#.into(), PolicyErrorKind::Json),
        (with("Effect", json!("allow")), PolicyErrorKind::InvalidEffect),
        (with("NotAction", json!("*")), PolicyErrorKind::ConflictingElements),
        (with("Principal", json!({"Service": "apigateway.amazonaws.com"})), PolicyErrorKind::InvalidPrincipal),
        (with("Principal", json!({"AWS": "car-*"})), PolicyErrorKind::InvalidPrincipal),
        (with("Principal", json!("car-orders")), PolicyErrorKind::InvalidPrincipal),
        (with("Action", json!("Invoke")), PolicyErrorKind::InvalidAction),
        (with("Action", json!([])), PolicyErrorKind::MissingElement),
        (with("Resource", json!("arn:aws:s3:::bucket")), PolicyErrorKind::InvalidResource),
        (with("Resource", json!("tires/prod")), PolicyErrorKind::InvalidResource),
        (with("Resource", json!("execute-api:/${aws:username}/*")), PolicyErrorKind::PolicyVariable),
        (with("Condition", json!({"StringEquals": {"b2b:User": "${aws:username}"}})), PolicyErrorKind::PolicyVariable),
        (with("Condition", json!({"StringEqualz": {"b2b:User": "x"}})), PolicyErrorKind::UnknownOperator),
        (with("Condition", json!({"StringEquals": {"b2b:User": "x", "B2B:USER": "y"}})), PolicyErrorKind::InvalidConditionKey),
        (with("Condition", json!({"StringEquals": {"b2b:User": []}})), PolicyErrorKind::MissingElement),
        (with("Condition", json!({"StringEquals": {}})), PolicyErrorKind::MissingElement),
        (with("Condition", json!({"NumericLessThan": {"b2b:N": "ten"}})), PolicyErrorKind::InvalidConditionValue),
        (with("Condition", json!({"DateLessThan": {"b2b:D": "tomorrow"}})), PolicyErrorKind::InvalidConditionValue),
        (with("Condition", json!({"Bool": {"b2b:B": "yes"}})), PolicyErrorKind::InvalidConditionValue),
        (with("Condition", json!({"Null": {"b2b:B": ["true", "false"]}})), PolicyErrorKind::InvalidConditionValue),
        (with("Condition", json!({"IpAddress": {"aws:SourceIp": "10.0.0.256/8"}})), PolicyErrorKind::InvalidConditionValue),
        (with("Condition", json!({"IpAddress": {"aws:SourceIp": "fe80::1%eth0"}})), PolicyErrorKind::InvalidConditionValue),
        (with("Sid", json!("Ok")), PolicyErrorKind::DuplicateSid),
    ];
    for (document, kind) in cases {
        let error = err(&document);
        assert_eq!(error.kind(), kind, "{document}: {error}");
        if document.contains("\"Bad\"") {
            assert_eq!(error.statement().and_then(|s| s.sid()), Some("Bad"), "{error}");
            assert!(error.to_string().starts_with("statement \"Bad\": "), "{error}");
        }
    }
    assert!(ResourcePolicy::parse(&with("Principal", json!({"AWS": ["*"]})), api()).is_ok());
}

#[test]
fn json_errors_give_the_position() {
    let error = ResourcePolicy::parse("{\n  \"Statement\": [,]\n}", api()).unwrap_err();
    assert_eq!(error.kind(), PolicyErrorKind::Json);
    assert!(error.to_string().contains("line 2, column"), "{error}");
}
