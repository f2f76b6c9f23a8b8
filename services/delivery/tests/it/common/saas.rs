//! Rows for SaaS connections (HubSpot, Mailchimp) as the router writes
//! them: the kind, its config, and its credentials sealed with the
//! deployment's master key.

use switchyard_core::ids::{ConnectionId, DeliveryId};
use switchyard_tenancy::secrets::{Keyring, SecretField, store};

use super::TestEnv;

impl TestEnv {
    /// A connection of `kind` with `config` and its sealed `secret`.
    pub async fn insert_saas_connection(
        &self,
        kind: &str,
        config: serde_json::Value,
        secret: (SecretField, &str),
    ) -> ConnectionId {
        let id = ConnectionId::generate();
        self.execute(
            "INSERT INTO connections (id, workspace_id, name, kind, config) \
             VALUES ($1, $2, 'crm', $3, $4)",
            &[&id.as_uuid(), &self.workspace.as_uuid(), &kind, &config],
        )
        .await;
        self.seal(id, secret).await;
        id
    }

    /// Seals (or replaces) one secret of `connection`.
    pub async fn seal(&self, connection: ConnectionId, (field, value): (SecretField, &str)) {
        let keyring = Keyring::from_config(&self.secrets).expect("keyring");
        let client = self.pool.get().await.expect("client");
        store::put(
            &client,
            &keyring,
            self.workspace,
            connection,
            &field,
            value,
            None,
        )
        .await
        .expect("seal the secret");
    }

    /// An event with `payload` and a pending delivery of it to `connection`.
    pub async fn deliver_to(
        &self,
        connection: ConnectionId,
        payload: &serde_json::Value,
    ) -> DeliveryId {
        let event = self.insert_event(payload).await;
        let delivery = self.insert_delivery(event, connection).await;
        self.enqueue(delivery).await;
        delivery
    }

    /// The `detail` of each attempt, in order.
    pub async fn attempt_details(&self, delivery: DeliveryId) -> Vec<serde_json::Value> {
        let client = self.pool.get().await.expect("client");
        client
            .query(
                "SELECT detail FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempt",
                &[&delivery.as_uuid()],
            )
            .await
            .expect("attempt details")
            .iter()
            .map(|row| row.get(0))
            .collect()
    }
}
