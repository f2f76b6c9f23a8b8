//! `switchyard schema …` against a running registry: the command functions
//! with the stack's client, asserting what they print and report.

use std::path::PathBuf;

use switchyard::commands::schema::{self, Outcome, SchemaCommand, SchemaTarget};
use switchyard_proto::v1::Compatibility;
use switchyard_tests::{Service, TestStack};

const LEAD_V1: &str = r#"{"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}, "email": {"type": "string"}}}"#;
const LEAD_BREAKING: &str = r#"{"type": "object", "required": ["id", "email"], "properties": {"id": {"type": "string"}, "email": {"type": "string"}}}"#;
const LEAD_V2: &str = r#"{"type": "object", "title": "Lead", "required": ["id"], "properties": {"id": {"type": "string"}, "email": {"type": "string"}}}"#;
const INVOICE: &str = r#"{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"}"#;

/// A directory of its own, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new() -> Self {
        let path =
            std::env::temp_dir().join(format!("sy-schemas-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&path).expect("temp dir");
        Self(path)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("written");
        path
    }

    fn target(&self, compatibility: Option<Compatibility>) -> SchemaTarget {
        SchemaTarget {
            event_type: None,
            file: None,
            dir: Some(self.0.clone()),
            compatibility,
        }
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn one(event_type: &str, file: PathBuf, compatibility: Option<Compatibility>) -> SchemaTarget {
    SchemaTarget {
        event_type: Some(event_type.to_string()),
        file: Some(file),
        dir: None,
        compatibility,
    }
}

fn text(out: Vec<u8>) -> String {
    String::from_utf8(out).expect("utf-8")
}

#[tokio::test]
async fn push_and_check_a_directory_like_ci_would() -> anyhow::Result<()> {
    let stack = TestStack::start_with(&[Service::Registry], |_| {}).await?;
    let client = &stack.client;
    let dir = Dir::new();
    dir.write("lead.created.json", LEAD_V1);
    dir.write("invoice.paid.json", INVOICE);
    dir.write("README.md", "not a schema");

    let mut out = Vec::new();
    let report = schema::push(client, &dir.target(None), "", &mut out).await?;
    assert_eq!(
        text(out),
        "invoice.paid: created v1\nlead.created: created v1\n"
    );
    assert_eq!(report.failures(), 0);

    // Idempotent: nothing changed, nothing new.
    let mut out = Vec::new();
    let again = schema::push(client, &dir.target(None), "", &mut out).await?;
    assert_eq!(
        text(out),
        "invoice.paid: unchanged (v1)\nlead.created: unchanged (v1)\n"
    );
    assert_eq!(
        again.outcomes,
        [
            ("invoice.paid".to_string(), Outcome::Unchanged(1)),
            ("lead.created".to_string(), Outcome::Unchanged(1)),
        ]
    );

    // A break: check reports it and fails, push refuses it and stores nothing.
    dir.write("lead.created.json", LEAD_BREAKING);
    let mut out = Vec::new();
    let checked = schema::check(client, &dir.target(None), &mut out).await?;
    assert_eq!(
        text(out),
        "invoice.paid: unchanged (v1)\nlead.created: refused\n  /properties/email: became required (version 1)\n"
    );
    assert_eq!(checked.failures(), 1);
    let mut out = Vec::new();
    let pushed = schema::push(client, &dir.target(None), "", &mut out).await?;
    assert_eq!(
        pushed.outcomes[1],
        (
            "lead.created".to_string(),
            Outcome::Refused(vec![
                "/properties/email: became required (version 1)".to_string()
            ])
        )
    );
    let run = schema::run(
        client,
        SchemaCommand::Check {
            target: dir.target(None),
        },
    )
    .await;
    assert_eq!(
        run.err().map(|error| error.to_string()),
        Some("1 of 2 schemas did not pass".to_string())
    );

    // The same break under a mode that allows it checks clean.
    let mut out = Vec::new();
    let forward =
        schema::check(client, &dir.target(Some(Compatibility::Forward)), &mut out).await?;
    assert_eq!(forward.failures(), 0, "{}", text(out));

    let lead = dir.write("lead.created.json", LEAD_V2);
    let mut out = Vec::new();
    let checked = schema::check(client, &one("lead.created", lead.clone(), None), &mut out).await?;
    assert_eq!(text(out), "lead.created: compatible with v1\n");
    assert_eq!(checked.failures(), 0);
    let mut out = Vec::new();
    schema::push(client, &one("lead.created", lead, None), "A lead", &mut out).await?;
    assert_eq!(text(out), "lead.created: created v2\n");
    Ok(())
}

#[tokio::test]
async fn list_show_modes_and_deprecation() -> anyhow::Result<()> {
    let stack = TestStack::start_with(&[Service::Registry], |_| {}).await?;
    let client = &stack.client;
    let dir = Dir::new();
    let order = dir.write(
        "order.placed.json",
        r#"{"type": "object", "properties": {"total": {"type": "number"}}}"#,
    );

    let mut out = Vec::new();
    let new_type =
        schema::check(client, &one("order.placed", order.clone(), None), &mut out).await?;
    assert_eq!(new_type.outcomes[0].1, Outcome::NewType);
    assert_eq!(text(out), "order.placed: compatible (new event type)\n");

    let mut out = Vec::new();
    schema::push(
        client,
        &one(
            "order.placed",
            order.clone(),
            Some(Compatibility::FullTransitive),
        ),
        "An order",
        &mut out,
    )
    .await?;
    // A push naming another mode than the type's is refused, with the way out.
    let mut out = Vec::new();
    let mismatch = schema::push(
        client,
        &one("order.placed", order, Some(Compatibility::None)),
        "",
        &mut out,
    )
    .await?;
    assert_eq!(mismatch.failures(), 1);
    assert!(text(out).contains(
        "has compatibility FULL_TRANSITIVE, not NONE; change it with SetCompatibility first"
    ),);

    let mut out = Vec::new();
    schema::set_compatibility(client, "order.placed", Compatibility::Backward, &mut out).await?;
    assert_eq!(
        text(out),
        "order.placed: compatibility BACKWARD (was FULL_TRANSITIVE)\n"
    );
    let mut out = Vec::new();
    schema::deprecate(client, "order.placed", true, "use order.created", &mut out).await?;
    assert_eq!(text(out), "order.placed: deprecated\n");

    let mut out = Vec::new();
    schema::list(client, &mut out).await?;
    assert_eq!(
        text(out),
        "order.placed  v1  BACKWARD  deprecated  An order\n"
    );

    let mut out = Vec::new();
    schema::show(client, "order.placed", 0, &mut out).await?;
    let shown = text(out);
    let (head, document) = shown.split_once("\n{").expect("a header, then the schema");
    assert_eq!(
        head,
        "order.placed  v1 of 1  BACKWARD\ndescription: An order\ndeprecated: use order.created"
    );
    let document: serde_json::Value = serde_json::from_str(&format!("{{{document}"))?;
    assert_eq!(document["properties"]["total"]["type"], "number");

    let missing = schema::show(client, "order.placed", 4, &mut Vec::new()).await;
    assert_eq!(
        missing.err().map(|error| error.to_string()),
        Some("NotFound: event type `order.placed` has no version 4".to_string())
    );
    Ok(())
}
