//! `switchyard emit --file events.ndjson`: many events from a file (or
//! `-`, standard input), one JSON object per line —
//! `{"event_type": "lead.created", "payload": {…}, "idempotency_key": "…",
//! "schema_version": 2}` (the last two optional) — sent through
//! `EmitEvents` in calls of up to 1,000 events and 4 MiB of payload. Prints
//! one line per event, `<line>: <event id>` or `<line>: <CODE>: <reason>`,
//! and fails when any event was refused. Blank lines are skipped.

use std::io::BufRead;

use anyhow::{Context, bail};
use serde::Deserialize;
use switchyard_client::{Client, proto};

/// Events per `EmitEvents` call at most (the server's limit).
const MAX_CALL_EVENTS: usize = 1000;
/// Bytes of payload per call at most (the server's limit).
const MAX_CALL_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    event_type: String,
    payload: serde_json::Value,
    #[serde(default)]
    idempotency_key: String,
    #[serde(default)]
    schema_version: u32,
}

/// Reads `source` (`-` for standard input) and parses every line; a line
/// that is not such an object stops the command before anything is sent.
pub fn read(
    source: &str,
    stdin: impl BufRead,
) -> anyhow::Result<Vec<(usize, proto::EmitEventRequest)>> {
    let reader: Box<dyn BufRead> = if source == "-" {
        Box::new(stdin)
    } else {
        let file = std::fs::File::open(source).with_context(|| format!("opening {source}"))?;
        Box::new(std::io::BufReader::new(file))
    };
    let mut events = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let number = index + 1;
        let line = line.with_context(|| format!("reading line {number} of {source}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Line = serde_json::from_str(&line).with_context(|| {
            format!("line {number} of {source} is not {{\"event_type\": …, \"payload\": {{…}}}}")
        })?;
        events.push((
            number,
            proto::EmitEventRequest {
                event_type: parsed.event_type,
                payload_json: parsed.payload.to_string(),
                idempotency_key: parsed.idempotency_key,
                schema_version: parsed.schema_version,
            },
        ));
    }
    Ok(events)
}

/// Consecutive calls within the server's limits (a payload above the byte
/// limit goes alone and is refused by the server with its reason).
fn calls(
    events: Vec<(usize, proto::EmitEventRequest)>,
) -> Vec<Vec<(usize, proto::EmitEventRequest)>> {
    let mut calls = Vec::new();
    let mut current: Vec<(usize, proto::EmitEventRequest)> = Vec::new();
    let mut bytes = 0;
    for event in events {
        let size = event.1.payload_json.len();
        if !current.is_empty()
            && (current.len() == MAX_CALL_EVENTS || bytes + size > MAX_CALL_BYTES)
        {
            calls.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(event);
    }
    if !current.is_empty() {
        calls.push(current);
    }
    calls
}

pub async fn emit(client: &Client, source: &str) -> anyhow::Result<()> {
    let events = read(source, std::io::stdin().lock())?;
    let total = events.len();
    let mut refused = 0;
    for call in calls(events) {
        let (numbers, requests): (Vec<usize>, Vec<_>) = call.into_iter().unzip();
        let results = client
            .emit_events(requests)
            .await
            .map_err(|status| anyhow::anyhow!("{:?}: {}", status.code(), status.message()))?;
        for (number, result) in numbers.iter().zip(results) {
            match result.outcome {
                Some(proto::emit_events_result::Outcome::Accepted(accepted)) => {
                    let note = if accepted.duplicate {
                        " (duplicate of an earlier emit)"
                    } else {
                        ""
                    };
                    println!("{number}: {}{note}", accepted.event_id);
                }
                Some(proto::emit_events_result::Outcome::Error(error)) => {
                    refused += 1;
                    println!(
                        "{number}: {:?}: {}",
                        tonic::Code::from(error.code),
                        error.message
                    );
                }
                None => {
                    refused += 1;
                    println!("{number}: no result");
                }
            }
        }
    }
    if refused > 0 {
        bail!("{refused} of {total} events refused");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_and_calls_respect_the_limits() {
        let text = "{\"event_type\":\"a.b\",\"payload\":{\"n\":1},\"idempotency_key\":\"k\"}\n\n{\"event_type\":\"a.b\",\"payload\":{}}\n";
        let events = read("-", text.as_bytes()).expect("parses");
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].0, 1);
        assert_eq!(events[1].0, 3, "line numbers count blank lines");
        assert_eq!(events[0].1.payload_json, r#"{"n":1}"#);
        assert_eq!(events[0].1.idempotency_key, "k");

        let error = read("-", "{\"payload\":{}}\n".as_bytes()).expect_err("no type");
        assert!(format!("{error:#}").contains("line 1"), "{error:#}");

        let many: Vec<_> = (0..2500)
            .map(|n| {
                (
                    n,
                    proto::EmitEventRequest {
                        payload_json: "{}".into(),
                        ..Default::default()
                    },
                )
            })
            .collect();
        let sizes: Vec<usize> = calls(many).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![1000, 1000, 500]);
        let big = "x".repeat(3 * 1024 * 1024);
        let heavy: Vec<_> = (0..3)
            .map(|n| {
                (
                    n,
                    proto::EmitEventRequest {
                        payload_json: big.clone(),
                        ..Default::default()
                    },
                )
            })
            .collect();
        assert_eq!(calls(heavy).len(), 3);
    }
}
