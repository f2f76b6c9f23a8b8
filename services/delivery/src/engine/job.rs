//! A stream entry's job, parsed: which delivery to attempt. The job as
//! written is kept (with its `traceparent`), so a job parked for later goes
//! back into Redis as it came.

use switchyard_core::ids::{ConnectionId, DeliveryId, WorkspaceId};
use switchyard_delivery_model::queue::DeliveryJob;

use super::queue::StreamEntry;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub workspace: WorkspaceId,
    pub delivery: DeliveryId,
    /// The delivery's connection, when the job names it (a hint: the claim
    /// reads the connection from Postgres).
    pub connection: Option<ConnectionId>,
    raw: DeliveryJob,
}

impl Job {
    pub fn new(workspace: WorkspaceId, delivery: DeliveryId) -> Self {
        Self {
            workspace,
            delivery,
            connection: None,
            raw: DeliveryJob::new(workspace.to_string(), delivery.to_string()),
        }
    }

    /// The same job, naming its delivery's connection.
    pub fn with_connection(mut self, connection: ConnectionId) -> Self {
        self.connection = Some(connection);
        self.raw = self.raw.with_connection(Some(connection.to_string()));
        self
    }

    /// The `traceparent` of the span that enqueued the job, if any.
    pub fn traceparent(&self) -> Option<&str> {
        self.raw.traceparent.as_deref()
    }

    /// The canonical JSON of this job, the form parked in the delayed set
    /// (so two parkings of one delivery collapse into one member).
    pub fn to_json(&self) -> String {
        self.raw.to_json()
    }

    /// Reads a stream entry's job; the error says why it is unusable.
    pub fn parse(entry: &StreamEntry) -> Result<Self, String> {
        let Some(text) = entry.job.as_deref() else {
            return Err("the entry has no `job` field".to_string());
        };
        Self::from_json(text)
    }

    /// Reads a job as written by the producer.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let raw: DeliveryJob = serde_json::from_str(text)
            .map_err(|error| format!("the job is not valid JSON: {error}"))?;
        if raw.v != DeliveryJob::VERSION {
            return Err(format!("job version {} is not supported", raw.v));
        }
        Ok(Self {
            workspace: WorkspaceId::parse(&raw.workspace_id)
                .map_err(|reason| format!("workspace_id {reason}"))?,
            delivery: DeliveryId::parse(&raw.delivery_id)
                .map_err(|reason| format!("delivery_id {reason}"))?,
            connection: raw
                .connection_id
                .as_deref()
                .and_then(|id| ConnectionId::parse(id).ok()),
            raw,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(job: Option<&str>) -> StreamEntry {
        StreamEntry {
            id: "1-0".to_string(),
            job: job.map(str::to_string),
            partition: 0,
        }
    }

    #[test]
    fn parses_valid_jobs() {
        let job = Job::new(WorkspaceId::generate(), DeliveryId::generate());
        assert_eq!(Job::parse(&entry(Some(&job.to_json()))), Ok(job));
    }

    #[test]
    fn keeps_unknown_optional_fields_of_the_job() {
        let job = Job::new(WorkspaceId::generate(), DeliveryId::generate());
        let traced = job.to_json().replace(
            '}',
            r#","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}"#,
        );
        let parsed = Job::parse(&entry(Some(&traced))).expect("parses");
        assert_eq!(parsed.delivery, job.delivery);
        assert!(parsed.to_json().contains("traceparent"));
    }

    #[test]
    fn refuses_malformed_jobs() {
        let delivery = DeliveryId::generate();
        let workspace = WorkspaceId::generate();
        let cases = [
            None,
            Some("not json".to_string()),
            Some(format!(
                r#"{{"v":2,"workspace_id":"{workspace}","delivery_id":"{delivery}"}}"#
            )),
            Some(format!(
                r#"{{"v":1,"workspace_id":"{delivery}","delivery_id":"{delivery}"}}"#
            )),
            Some(format!(
                r#"{{"v":1,"workspace_id":"{workspace}","delivery_id":"x"}}"#
            )),
        ];
        for case in cases {
            assert!(Job::parse(&entry(case.as_deref())).is_err(), "{case:?}");
        }
    }
}
