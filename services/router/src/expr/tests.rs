//! Table-driven tests of compiling and evaluating expressions.

use chrono::{TimeZone, Utc};
use serde_json::{Value as Json, json};

use super::*;

fn payload() -> Json {
    super::sample::lead_payload()
}

fn with_event<R>(run: impl FnOnce(&EventScope<'_>) -> R) -> R {
    let payload = payload();
    let fields = EventFields {
        event_type: "lead.created",
        id: "evt_1",
        payload: &payload,
        received_at: Utc
            .with_ymd_and_hms(2025, 3, 14, 15, 9, 26)
            .single()
            .expect("ok"),
        schema_version: 2,
    };
    let scope = EventScope::new(&fields);
    run(&scope)
}

fn condition(source: &str) -> Result<bool, String> {
    let program = compile(Role::Condition, source)
        .map_err(|e| e.to_string())?
        .expect("not empty");
    with_event(|scope| {
        scope
            .condition(&program)
            .map_err(|e| e.message().to_string())
    })
}

fn mapping(source: &str) -> Result<Json, String> {
    let program = compile(Role::Mapping, source)
        .map_err(|e| e.to_string())?
        .expect("not empty");
    let text = with_event(|scope| scope.mapping(&program).map_err(|e| e.message().to_string()))?;
    Ok(serde_json::from_str(&text).expect("the body is JSON"))
}

#[test]
fn conditions_evaluate_as_cel_says() {
    let cases: &[(&str, bool)] = &[
        // operators
        (
            r#"event.payload.source == "ads" && event.payload.amount > 100"#,
            true,
        ),
        (
            r#"event.payload.source == "ads" && event.payload.amount > 200"#,
            false,
        ),
        ("event.payload.amount >= 150 || false", true),
        ("!(event.payload.amount < 100)", true),
        ("event.payload.amount + 50 == 200", true),
        ("event.payload.price * 2.0 == 25.0", true),
        ("event.payload.amount > 149.5", true),
        ("event.payload.amount % 7 == 3", true),
        (r#"event.payload.source in ["ads", "seo"]"#, true),
        (r#""vip" in event.payload.tags"#, true),
        (r#"event.payload.source != "ads" ? false : true"#, true),
        // missing fields with has()
        ("has(event.payload.missing)", false),
        ("has(event.payload.email)", true),
        (
            "has(event.payload.missing) && event.payload.missing > 1",
            false,
        ),
        ("!has(event.payload.company.vat)", true),
        ("event.payload.nothing == null", true),
        // nested maps
        (r#"event.payload.company.address.city == "London""#, true),
        (r#"event.payload["company"]["name"] == "Engines""#, true),
        (r#""address" in event.payload.company"#, true),
        // lists and macros
        ("size(event.payload.tags) == 2", true),
        ("event.payload.tags[1] == 'beta'", true),
        ("event.payload.items.exists(i, i.qty == 0)", true),
        ("event.payload.items.all(i, i.qty > 0)", false),
        ("event.payload.items.exists_one(i, i.sku == 'a')", true),
        ("event.payload.items.filter(i, i.qty > 0).size() == 1", true),
        ("event.payload.items.map(i, i.qty).exists(q, q == 2)", true),
        // string functions
        (r#"event.payload.email.endsWith("@Example.com")"#, true),
        (
            r#"event.payload.email.lowerAscii().startsWith("ada@")"#,
            true,
        ),
        (r#"event.payload.email.contains("@")"#, true),
        (r#"event.payload.email.matches("^[A-Za-z]+@")"#, true),
        (
            r#"event.payload.email.split("@")[1] == "Example.com""#,
            true,
        ),
        (r#"size(event.payload.firstName) == 3"#, true),
        // the event's own fields and timestamps
        (
            r#"event.type == "lead.created" && event.id == "evt_1""#,
            true,
        ),
        ("event.schema_version == 2", true),
        (
            r#"event.received_at > timestamp("2025-01-01T00:00:00Z")"#,
            true,
        ),
        (
            r#"event.received_at - timestamp("2025-03-14T15:00:00Z") == duration("566s")"#,
            true,
        ),
        ("event.received_at.getFullYear() == 2025", true),
        (r#"event.received_at.getHours("UTC") == 15"#, true),
        (
            r#"event.received_at + duration("1h") > timestamp("2025-03-14T16:00:00Z")"#,
            true,
        ),
        // optionals
        ("event.payload.?missing.orValue(5) == 5", true),
        ("optional.of(event.payload.amount).hasValue()", true),
        ("optional.none().orValue(1) == 1", true),
        ("event.payload[?'source'].value() == 'ads'", true),
    ];
    for (source, expected) in cases {
        assert_eq!(condition(source), Ok(*expected), "{source}");
    }
}

#[test]
fn mappings_build_bodies() {
    let cases: &[(&str, Json)] = &[
        (
            r#"{"email": event.payload.email, "properties": {"firstname": event.payload.firstName}}"#,
            json!({"email": "Ada@Example.com", "properties": {"firstname": "Ada"}}),
        ),
        (
            r#"{"vat": has(event.payload.vat) ? event.payload.vat : "none"}"#,
            json!({"vat": "none"}),
        ),
        ("event.payload.tags", json!(["vip", "beta"])),
        ("event.payload.items.map(i, i.sku)", json!(["a", "b"])),
        ("event.payload.amount", json!(150)),
        ("event.payload.price", json!(12.5)),
        (
            r#"event.payload.firstName + " " + "Lovelace""#,
            json!("Ada Lovelace"),
        ),
        ("event.received_at", json!("2025-03-14T15:09:26Z")),
        (
            r#"{"n": event.payload.nothing, "ok": true}"#,
            json!({"n": null, "ok": true}),
        ),
        ("{1: 'one'}", json!({"1": "one"})),
        (
            r#"{"city": event.payload.company.address.city.upperAscii()}"#,
            json!({"city": "LONDON"}),
        ),
        (
            "[event.type, event.schema_version]",
            json!(["lead.created", 2]),
        ),
        ("event.payload.?missing.orValue('x')", json!("x")),
    ];
    for (source, expected) in cases {
        assert_eq!(mapping(source).as_ref(), Ok(expected), "{source}");
    }
}

#[test]
fn runtime_errors_are_reported_not_raised() {
    let cases: &[(&str, &str)] = &[
        ("event.payload.missing > 1", "no such key: missing"),
        ("event.payload.amount / 0 == 1", "division by zero"),
        ("event.payload.tags[5] == 'x'", "index out of bounds"),
        ("int(event.payload.firstName) == 1", "int"),
    ];
    for (source, expected) in cases {
        let error = condition(source).expect_err(source);
        assert!(
            error.to_lowercase().contains(expected),
            "{source}: {error} should mention {expected}"
        );
    }
    let error = mapping("{'a': event.payload.missing}").expect_err("missing field");
    assert_eq!(error, "no such key: missing");
    let error = mapping("double('nan')").expect_err("nan");
    assert!(error.contains("no JSON form"), "{error}");
}

#[test]
fn outcomes_combine_condition_and_mapping() {
    let rule = compile_rule("event.payload.amount > 100", "{'id': event.payload.id}").expect("ok");
    let failing = compile_rule("event.payload.nope", "").expect("ok");
    let not_matching = compile_rule("event.payload.amount > 1000", "").expect("ok");
    let as_is = compile_rule("", "").expect("ok");
    with_event(|scope| {
        assert_eq!(
            scope.outcome(&rule),
            Outcome::Matched {
                body: Some(r#"{"id":"lead_1"}"#.to_string())
            }
        );
        assert_eq!(
            scope.outcome(&failing),
            Outcome::Failed {
                error: "condition: no such key: nope".to_string()
            }
        );
        assert_eq!(scope.outcome(&not_matching), Outcome::NotMatched);
        assert_eq!(scope.outcome(&as_is), Outcome::Matched { body: None });
    });
}

#[test]
fn invalid_expressions_are_refused_with_their_position() {
    let cases: &[(Role, &str, &str)] = &[
        (
            Role::Condition,
            "event.payload.amount >",
            "1:23: Syntax error",
        ),
        (
            Role::Condition,
            "event.payload.a &&\n  (event.payload.b",
            "2:19: Syntax error",
        ),
        (
            Role::Condition,
            "payload.amount > 1",
            "1:1: undeclared reference to `payload`",
        ),
        (
            Role::Condition,
            "event.paylod.x == 1",
            "1:6: `event` has no field `paylod`",
        ),
        (
            Role::Condition,
            "event.payload.x.frobnicate()",
            "unknown function `frobnicate`",
        ),
        (
            Role::Condition,
            r#"event.payload.a.replace("a", "b") == "c""#,
            "unknown function `replace`",
        ),
        (
            Role::Condition,
            "event.payload.amount + 1",
            "a condition must yield a bool",
        ),
        (
            Role::Condition,
            "-event.payload.amount",
            "a condition must yield a bool",
        ),
        (
            Role::Condition,
            r#""yes""#,
            "1:1: a condition must yield a bool, but this yields a string",
        ),
        (Role::Condition, "{'a': 1}", "yields a map"),
        (Role::Condition, "event.type", "yields a string"),
        (
            Role::Condition,
            "event.payload.items.map(event, event)",
            "`event` cannot be a loop variable",
        ),
        (Role::Mapping, "type(event)", "a type has no JSON form"),
        (
            Role::Condition,
            "[1].all(a, [2].all(b, [3].all(c, true)))",
            "nests comprehensions",
        ),
    ];
    for (role, source, expected) in cases {
        let error = compile(*role, source).expect_err(source);
        assert_eq!(error.role, *role);
        assert!(
            error.reason.contains(expected),
            "{source}: `{}` should contain `{expected}`",
            error.reason
        );
        assert!(
            error
                .reason
                .split(':')
                .take(2)
                .all(|n| n.trim().parse::<u32>().is_ok()),
            "{source}: `{}` should start with line:col",
            error.reason
        );
    }
}

#[test]
fn size_limits_are_enforced() {
    let long = format!("event.payload.a == '{}'", "x".repeat(5000));
    assert!(
        compile(Role::Condition, &long)
            .expect_err("refused")
            .reason
            .contains("longer than 4096")
    );
    let deep = format!("{}1{}", "[".repeat(40), "]".repeat(40));
    let error = compile(Role::Mapping, &deep).expect_err("refused");
    assert!(
        error.reason.contains("nested deeper than 32"),
        "{}",
        error.reason
    );
    // Left-associative chains nest as deep as they are long.
    let chain = format!("event.payload.a == {}", vec!["1"; 100].join(" + "));
    let error = compile(Role::Condition, &chain).expect_err("refused");
    assert!(
        error.reason.contains("nested deeper than 32"),
        "{}",
        error.reason
    );
    // Parentheses alone add no depth; unbalanced ones are a syntax error.
    assert!(
        compile(
            Role::Condition,
            &format!("{}true{}", "(".repeat(40), ")".repeat(40))
        )
        .is_ok()
    );
    assert!(compile(Role::Condition, &format!("{}true", "(".repeat(200))).is_err());
    let wide = vec!["event.payload.a==1"; 200].join("||");
    assert!(wide.len() <= 4096);
    let error = compile(Role::Condition, &wide).expect_err("refused");
    assert!(
        error.reason.contains("more than 1000 nodes"),
        "{}",
        error.reason
    );
}

#[test]
fn hostile_expressions_run_out_of_budget() {
    // 1,000 × 1,000 iterations: each inner loop is charged, the 101st
    // outer iteration exhausts 100,000 units.
    let payload = json!({"n": (0..1000).collect::<Vec<_>>()});
    let fields = EventFields {
        event_type: "x.y",
        id: "evt",
        payload: &payload,
        received_at: Utc::now(),
        schema_version: 1,
    };
    let program = compile(
        Role::Condition,
        "event.payload.n.all(a, event.payload.n.all(b, a + b >= 0))",
    )
    .expect("ok")
    .expect("ok");
    let started = std::time::Instant::now();
    let error = EventScope::new(&fields)
        .condition(&program)
        .expect_err("refused");
    // Whichever bound comes first: a debug build hits the clock first.
    assert!(
        error.message().contains("budget") || error.message().contains("time limit"),
        "{error:?}"
    );
    assert!(started.elapsed() < std::time::Duration::from_millis(500));

    // Doubling a list with `+` is charged by the size it reaches.
    let program = compile(
        Role::Mapping,
        "event.payload.n.map(x, event.payload.n + event.payload.n + event.payload.n)",
    )
    .expect("ok")
    .expect("ok");
    let error = EventScope::new(&fields)
        .mapping(&program)
        .expect_err("refused");
    assert!(
        error.message().contains("budget") || error.message().contains("time limit"),
        "{error:?}"
    );
}

#[test]
fn empty_expressions_compile_to_nothing() {
    assert!(compile(Role::Condition, "  ").expect("ok").is_none());
    assert!(compile_rule("", "").expect("ok").is_trivial());
}

#[test]
fn event_itself_is_bound_where_an_expression_names_it() {
    let cases: &[(&str, bool)] = &[
        ("has(event.payload)", true),
        ("has(event.payload.email) && has(event.type)", true),
        (r#"event["type"] == "lead.created""#, true),
        (r#""payload" in event && size(event) == 5"#, true),
        ("event.?payload.hasValue()", true),
        (
            "event.payload.tags.exists(t, event.id == 'evt_1' && t == 'vip')",
            true,
        ),
        ("event.payload == event['payload']", true),
    ];
    for (source, expected) in cases {
        assert_eq!(condition(source), Ok(*expected), "{source}");
    }
    assert_eq!(
        mapping(r#"{"t": event["type"], "n": event.schema_version}"#),
        Ok(json!({"t": "lead.created", "n": 2}))
    );
}

/// The body as the interpreter's built value serialises, for comparison.
fn mapping_as_built(source: &str) -> Result<String, String> {
    let program = compile(Role::Mapping, source)
        .map_err(|e| e.to_string())?
        .expect("not empty");
    let payload = payload();
    let fields = EventFields {
        event_type: "lead.created",
        id: "evt_1",
        payload: &payload,
        received_at: Utc::now(),
        schema_version: 2,
    };
    let mut context = cel::Context::with_env(std::sync::Arc::clone(eval::environment()));
    for (variable, value) in value::field_values(&fields) {
        context.add_variable_as_val(variable, value);
    }
    context.add_variable_as_val("event", value::event_value(&fields));
    context.set_variable_resolver(&fields);
    budget::with_budget(|| {
        let value = cel::Value::resolve_val(&program.tree, &context)
            .map_err(|error| format!("runtime: {error}"))?;
        json::write_json_text(&json::AsJson(value.as_ref()))
    })
}

#[test]
fn literal_mappings_write_what_the_built_value_writes() {
    let sources = [
        r#"{"b": 1, "a": [1, {"z": 2, "y": event.payload.tags}], "c": {}, "d": []}"#,
        r#"{"a": 1, ?"b": optional.none(), ?"c": optional.of(2)}"#,
        r#"{1: "one", "x": {"k": event.payload.company}}"#,
        r#"[event.payload.amount, [], {"k": null}, [?optional.none(), 1]]"#,
        r#"{"x": event.payload.items.map(i, {"s": i.sku, "q": i.qty})}"#,
        r#"{"B": 1, "a": 2, "_": 3, "é": 4, "": 5}"#,
    ];
    for source in sources {
        let expected = mapping_as_built(source).expect(source);
        let body = mapping(source).expect(source);
        assert_eq!(
            body,
            serde_json::from_str::<Json>(&expected).expect("JSON"),
            "{source}"
        );
        let program = compile(Role::Mapping, source).expect("ok").expect("ok");
        let text = with_event(|scope| scope.mapping(&program)).expect(source);
        assert_eq!(text, expected, "{source}: the same text, keys sorted");
    }
}

#[test]
fn literal_mappings_fail_as_the_built_value_fails() {
    // The first failing entry in source order, even if an entry sorted
    // before it has no JSON form.
    let cases = [
        (
            r#"{"a": double("nan"), "b": event.payload.missing}"#,
            "no such key: missing",
        ),
        (
            r#"{"b": event.payload.missing, "a": event.payload.nope}"#,
            "no such key: missing",
        ),
        (
            r#"[double("nan"), [event.payload.nope]]"#,
            "no such key: nope",
        ),
    ];
    for (source, expected) in cases {
        assert_eq!(mapping(source), Err(expected.to_string()), "{source}");
    }
    // A repeated key, as the interpreter says.
    let source = r#"{"a": 1, "a": 2}"#;
    let built = mapping_as_built(source).expect_err(source);
    let error = mapping(source).expect_err(source);
    assert_eq!(built, format!("runtime: {error}"));
    let error = mapping(r#"{"a": {"b": double("inf")}}"#).expect_err("inf");
    assert!(error.contains("no JSON form"), "{error}");
}

#[test]
fn payload_paths_read_the_json_as_the_map_would() {
    let payload = json!({
        "a.b": {"c\\d": 1, "": "empty"},
        "n": null,
        "list": [{"k": "v"}],
        "s": "text",
        "big": 18446744073709551615u64,
        "x": 1.5
    });
    let fields = EventFields {
        event_type: "t.t",
        id: "evt",
        payload: &payload,
        received_at: Utc::now(),
        schema_version: 1,
    };
    let scope = EventScope::new(&fields);
    let run = |source: &str| {
        let program = compile(Role::Condition, source)
            .expect(source)
            .expect(source);
        scope
            .condition(&program)
            .map_err(|e| e.message().to_string())
    };
    let holds = [
        r#"event.payload["a.b"]["c\\d"] == 1"#,
        r#"event.payload["a.b"][""] == "empty""#,
        r#"has(event.payload["a.b"].c) == false"#,
        r#"has(event.payload.n) && event.payload.n == null"#,
        r#"event.payload.list[0].k == "v" && event.payload["list"][0]["k"] == "v""#,
        "event.payload.big == 18446744073709551615u && event.payload.x > 1",
        "event.payload.big - 1u == 18446744073709551614u && event.payload.x + 0.5 == 2.0",
        r#"event.payload.s.startsWith("te") && size(event.payload) == 6"#,
        r#"event.payload.?missing.orValue(1) == 1"#,
    ];
    for source in holds {
        assert_eq!(run(source), Ok(true), "{source}");
    }
    // Paths that lead nowhere fail as indexing the built map fails.
    let fails = [
        ("event.payload.missing == 1", "no such key: missing"),
        ("event.payload['a.b'].nope == 1", "no such key: nope"),
        ("has(event.payload.missing.k)", "no such key: missing"),
    ];
    for (source, expected) in fails {
        assert_eq!(run(source), Err(expected.to_string()), "{source}");
    }
    // As the interpreter reports indexing a string, null or list by name.
    for source in [
        "event.payload.s.k == 1",
        "has(event.payload.s.k)",
        "event.payload.n.k == 1",
        "has(event.payload.list.k)",
    ] {
        let error = run(source).expect_err(source);
        assert!(
            !error.contains('@') && !error.to_lowercase().contains("undeclared"),
            "{source}: {error}"
        );
    }
}
