//! HubSpot batch upsert: deliveries to one connection that are due
//! together share one `POST …/contacts/batch/upsert` with up to
//! [`MAX_INPUTS`] inputs, through the group-commit
//! `switchyard_core::batch::Batcher` — under light load a batch is one
//! delivery and goes at once, under load inputs gather while a request is
//! in flight. Every delivery keeps its own attempt and outcome:
//!
//! - an input whose id is already in the batch goes in the next request
//!   (HubSpot refuses duplicate ids in one batch);
//! - a 200 answers every input; a 207 answers the inputs its errors name
//!   (`context.ids`) with their error and the others with success, or
//!   every input with the whole answer when it names none;
//! - any other answer (401, 429, 5xx, no answer) is every input's answer.
//!
//! One batcher per connection and credentials (a fingerprint of URL and
//! token); a batched request carries no `traceparent`, as it serves many
//! traces.

use std::collections::HashSet;
use std::sync::Arc;

use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use switchyard_core::batch::Batcher;
use switchyard_core::ids::ConnectionId;

use crate::destinations::keyed::Keyed;
use crate::engine::http::{HttpResponse, Outbound, SendError, SendResult, Sender, Timeouts};

/// HubSpot's limit of inputs per batch.
pub const MAX_INPUTS: usize = 100;
/// Batch requests in flight per connection.
const PARALLEL: usize = 4;

/// Where and how one connection's batches go.
#[derive(Clone)]
pub struct Route {
    pub url: String,
    /// Content type, user agent and the masked-sensitive authorization.
    pub headers: HeaderMap,
    pub timeouts: Timeouts,
}

/// The batchers of every batching HubSpot connection; cheap to clone.
#[derive(Clone, Default)]
pub struct Batches {
    by_connection: Keyed<Batcher<Value, SendResult>>,
}

impl Batches {
    /// The connection's batcher for these credentials, created on first use.
    pub fn batcher(
        &self,
        connection: ConnectionId,
        fingerprint: [u8; 32],
        sender: &Sender,
        route: Route,
    ) -> Result<Arc<Batcher<Value, SendResult>>, SendError> {
        let sender = sender.clone();
        self.by_connection
            .get_or_insert(connection, fingerprint, move || {
                Batcher::spawn("hubspot_upsert", MAX_INPUTS, PARALLEL, move |inputs| {
                    let (sender, route) = (sender.clone(), route.clone());
                    async move { Ok(flush(&sender, &route, inputs).await) }
                })
            })
    }
}

/// Sends `inputs` in as few requests as unique ids allow; one result per
/// input, in order.
async fn flush(sender: &Sender, route: &Route, inputs: Vec<Value>) -> Vec<SendResult> {
    let mut results: Vec<Option<SendResult>> = vec![None; inputs.len()];
    for round in rounds(&inputs) {
        let body = json!({ "inputs": round.iter().map(|i| &inputs[*i]).collect::<Vec<_>>() });
        let request = Outbound {
            method: reqwest::Method::POST,
            url: route.url.clone(),
            headers: route.headers.clone(),
            body: body.to_string().into_bytes(),
            retry_after: super::answer::retry_after,
        };
        let result = sender.send(request, route.timeouts).await;
        for (index, answer) in per_input(&round, &inputs, &result) {
            results[index] = Some(answer);
        }
    }
    results
        .into_iter()
        .map(|result| result.unwrap_or_else(|| Err(SendError::Other("no batch answer".into()))))
        .collect()
}

/// Input indexes in requests where no id repeats.
fn rounds(inputs: &[Value]) -> Vec<Vec<usize>> {
    let mut rounds: Vec<(HashSet<String>, Vec<usize>)> = Vec::new();
    for (index, input) in inputs.iter().enumerate() {
        let id = input["id"].as_str().unwrap_or_default().to_lowercase();
        match rounds.iter_mut().find(|(ids, _)| !ids.contains(&id)) {
            Some((ids, members)) => {
                ids.insert(id);
                members.push(index);
            }
            None => rounds.push((HashSet::from([id]), vec![index])),
        }
    }
    rounds.into_iter().map(|(_, members)| members).collect()
}

/// Each input's answer from the batch's.
fn per_input(round: &[usize], inputs: &[Value], result: &SendResult) -> Vec<(usize, SendResult)> {
    let Ok(response) = result else {
        return round.iter().map(|i| (*i, result.clone())).collect();
    };
    if response.status != 207 {
        return round.iter().map(|i| (*i, result.clone())).collect();
    }
    let errors: Vec<Value> = serde_json::from_str::<Value>(&response.snippet)
        .ok()
        .and_then(|body| body.get("errors").and_then(|e| e.as_array()).cloned())
        .unwrap_or_default();
    let names = |error: &Value, id: &str| {
        error["context"]["ids"]
            .as_array()
            .is_some_and(|ids| ids.iter().any(|named| named.as_str() == Some(id)))
    };
    let any_named = errors
        .iter()
        .any(|error| error["context"]["ids"].is_array());
    round
        .iter()
        .map(|index| {
            let id = inputs[*index]["id"].as_str().unwrap_or_default();
            let answer = match errors.iter().find(|error| names(error, id)) {
                Some(error) => HttpResponse {
                    status: 207,
                    snippet: json!({ "errors": [error] }).to_string(),
                    retry_after: response.retry_after,
                },
                None if any_named => HttpResponse {
                    status: 200,
                    snippet: json!({ "status": "COMPLETE" }).to_string(),
                    retry_after: None,
                },
                None => response.clone(),
            };
            (*index, Ok(answer))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(id: &str) -> Value {
        json!({"idProperty": "email", "id": id, "properties": {"email": id}})
    }

    #[test]
    fn repeated_ids_go_in_later_requests() {
        let inputs = [input("a@x"), input("b@x"), input("A@x"), input("a@x")];
        assert_eq!(rounds(&inputs), vec![vec![0, 1], vec![2], vec![3]]);
    }

    #[test]
    fn multi_status_errors_answer_the_inputs_they_name() {
        let inputs = [input("a@x"), input("b@x")];
        let batch = Ok(HttpResponse {
            status: 207,
            snippet: json!({"status": "COMPLETE", "errors": [{"status": "error",
                "category": "VALIDATION_ERROR", "message": "bad b", "context": {"ids": ["b@x"]}}]})
            .to_string(),
            retry_after: None,
        });
        let answers = per_input(&[0, 1], &inputs, &batch);
        let statuses: Vec<u16> = answers
            .iter()
            .map(|(_, answer)| answer.as_ref().map(|r| r.status).unwrap_or(0))
            .collect();
        assert_eq!(statuses, [200, 207]);
        let throttled = Ok(HttpResponse {
            status: 429,
            snippet: String::new(),
            retry_after: None,
        });
        assert!(
            per_input(&[0, 1], &inputs, &throttled)
                .iter()
                .all(|(_, answer)| answer.as_ref().is_ok_and(|r| r.status == 429))
        );
    }
}
