//! The one table of who may call each RPC. A method not listed is refused,
//! and a test checks that every method of every Switchyard service in the
//! proto descriptors is listed.

use super::Scope;

/// What calling an RPC takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A workspace credential (API key or machine token) with this scope.
    Workspace(Scope),
    /// The operator token (workspace administration).
    Operator,
    /// The cluster's internal token (service to service).
    Internal,
}

/// `(gRPC service, method, access)` for every Switchyard RPC.
const TABLE: &[(&str, &str, Access)] = {
    use Access::{Internal, Operator, Workspace};
    use Scope::{Admin, Emit, Read};
    &[
        ("switchyard.v1.IngestService", "EmitEvent", Workspace(Emit)),
        ("switchyard.v1.IngestService", "EmitEvents", Workspace(Emit)),
        ("switchyard.v1.IngestService", "ListEvents", Workspace(Read)),
        ("switchyard.v1.IngestService", "GetEvent", Workspace(Read)),
        // Registry: schemas are read by `read`, changed by `admin`; payload
        // validation is what an emitting front end may need.
        (
            "switchyard.v1.RegistryService",
            "RegisterSchema",
            Workspace(Admin),
        ),
        (
            "switchyard.v1.RegistryService",
            "CheckCompatibility",
            Workspace(Read),
        ),
        (
            "switchyard.v1.RegistryService",
            "ValidatePayload",
            Workspace(Emit),
        ),
        (
            "switchyard.v1.RegistryService",
            "ValidatePayloads",
            Workspace(Emit),
        ),
        (
            "switchyard.v1.RegistryService",
            "GetEventType",
            Workspace(Read),
        ),
        (
            "switchyard.v1.RegistryService",
            "GetSchemaVersion",
            Workspace(Read),
        ),
        (
            "switchyard.v1.RegistryService",
            "ListEventTypes",
            Workspace(Read),
        ),
        (
            "switchyard.v1.RegistryService",
            "SetCompatibility",
            Workspace(Admin),
        ),
        (
            "switchyard.v1.RegistryService",
            "DeprecateEventType",
            Workspace(Admin),
        ),
        // Router: connections and rules.
        (
            "switchyard.v1.RouterService",
            "CreateConnection",
            Workspace(Admin),
        ),
        (
            "switchyard.v1.RouterService",
            "GetConnection",
            Workspace(Read),
        ),
        (
            "switchyard.v1.RouterService",
            "ListConnections",
            Workspace(Read),
        ),
        (
            "switchyard.v1.RouterService",
            "DeleteConnection",
            Workspace(Admin),
        ),
        (
            "switchyard.v1.RouterService",
            "UpdateConnection",
            Workspace(Admin),
        ),
        (
            "switchyard.v1.RouterService",
            "PauseConnection",
            Workspace(Admin),
        ),
        (
            "switchyard.v1.RouterService",
            "ResumeConnection",
            Workspace(Admin),
        ),
        (
            "switchyard.v1.RouterService",
            "RotateSigningSecret",
            Workspace(Admin),
        ),
        (
            "switchyard.v1.RouterService",
            "CreateRule",
            Workspace(Admin),
        ),
        ("switchyard.v1.RouterService", "GetRule", Workspace(Read)),
        (
            "switchyard.v1.RouterService",
            "UpdateRule",
            Workspace(Admin),
        ),
        ("switchyard.v1.RouterService", "ListRules", Workspace(Read)),
        (
            "switchyard.v1.RouterService",
            "DeleteRule",
            Workspace(Admin),
        ),
        ("switchyard.v1.RouterService", "TestRule", Workspace(Read)),
        ("switchyard.v1.RouterService", "TestEvent", Workspace(Read)),
        // Backfills create deliveries like rule changes do: admin; progress
        // is read.
        (
            "switchyard.v1.RouterService",
            "BackfillRule",
            Workspace(Admin),
        ),
        (
            "switchyard.v1.RouterService",
            "GetBackfill",
            Workspace(Read),
        ),
        (
            "switchyard.v1.RouterService",
            "ListBackfills",
            Workspace(Read),
        ),
        (
            "switchyard.v1.RouterService",
            "CancelBackfill",
            Workspace(Admin),
        ),
        // Delivery history is read; retries and replays are admin.
        (
            "switchyard.v1.DeliveryService",
            "ListDeliveries",
            Workspace(Read),
        ),
        (
            "switchyard.v1.DeliveryService",
            "GetDelivery",
            Workspace(Read),
        ),
        (
            "switchyard.v1.DeliveryService",
            "RetryDelivery",
            Workspace(Admin),
        ),
        (
            "switchyard.v1.DeliveryService",
            "ReplayDeadLetters",
            Workspace(Admin),
        ),
        (
            "switchyard.v1.DeliveryService",
            "GetDeliveryStats",
            Workspace(Read),
        ),
        // Tenants and credentials.
        (
            "switchyard.v1.WorkspaceService",
            "CreateWorkspace",
            Operator,
        ),
        ("switchyard.v1.WorkspaceService", "ListWorkspaces", Operator),
        (
            "switchyard.v1.WorkspaceService",
            "CreateApiKey",
            Workspace(Admin),
        ),
        (
            "switchyard.v1.WorkspaceService",
            "ListApiKeys",
            Workspace(Admin),
        ),
        (
            "switchyard.v1.WorkspaceService",
            "RevokeApiKey",
            Workspace(Admin),
        ),
        (
            "switchyard.v1.WorkspaceService",
            "RotateApiKey",
            Workspace(Admin),
        ),
        (
            "switchyard.v1.WorkspaceService",
            "AddVerificationKey",
            Workspace(Admin),
        ),
        (
            "switchyard.v1.WorkspaceService",
            "ListVerificationKeys",
            Workspace(Admin),
        ),
        (
            "switchyard.v1.WorkspaceService",
            "RemoveVerificationKey",
            Workspace(Admin),
        ),
        (
            "switchyard.v1.WorkspaceService",
            "ListAuditEvents",
            Workspace(Admin),
        ),
        (
            "switchyard.v1.WorkspaceService",
            "GetCaller",
            Workspace(Read),
        ),
        (
            "switchyard.v1.WorkspaceService",
            "SetRetention",
            Workspace(Admin),
        ),
        (
            "switchyard.internal.v1.RoutingService",
            "RouteEvent",
            Internal,
        ),
        (
            "switchyard.internal.v1.RoutingService",
            "RouteEvents",
            Internal,
        ),
        // The router asks delivery for the engine's state.
        (
            "switchyard.internal.v1.DeliveryControlService",
            "GetBreaker",
            Internal,
        ),
        (
            "switchyard.internal.v1.DeliveryControlService",
            "RequeueConnection",
            Internal,
        ),
    ]
};

/// What the RPC at `path` (`/<package>.<Service>/<Method>`) takes; `None`
/// for a method nobody may call.
pub fn access(path: &str) -> Option<Access> {
    let (service, method) = path.trim_start_matches('/').split_once('/')?;
    TABLE
        .iter()
        .find(|(s, m, _)| *s == service && *m == method)
        .map(|(_, _, access)| *access)
}

/// `Service/Method` of a request path, the `action` of audit entries.
pub fn action(path: &str) -> String {
    let path = path.trim_start_matches('/');
    match path.split_once('/') {
        Some((service, method)) => {
            let short = service.rsplit('.').next().unwrap_or(service);
            format!("{short}/{method}")
        }
        None => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn every_rpc_of_every_service_has_an_access_rule() {
        let set = prost_types::FileDescriptorSet::decode(switchyard_proto::FILE_DESCRIPTOR_SET)
            .expect("descriptor set");
        let mut methods = 0;
        for file in &set.file {
            for service in &file.service {
                let full = format!("{}.{}", file.package(), service.name());
                for method in &service.method {
                    let path = format!("/{full}/{}", method.name());
                    assert!(access(&path).is_some(), "{path} has no access rule");
                    methods += 1;
                }
            }
        }
        assert!(methods >= 39, "only {methods} methods found");
        assert_eq!(access("/switchyard.v1.IngestService/Nope"), None);
        assert_eq!(access("garbage"), None);
    }

    #[test]
    fn actions_are_short() {
        assert_eq!(
            action("/switchyard.v1.RouterService/UpdateConnection"),
            "RouterService/UpdateConnection"
        );
    }
}
