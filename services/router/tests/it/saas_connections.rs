//! HubSpot and Mailchimp connections through the API: validation that
//! names the missing field, credentials sealed and never echoed, the SSRF
//! guard on base-URL overrides, and new credentials reviving a connection
//! the delivery engine marked as needing them.

use switchyard_client::proto;
use tonic::Code;

use crate::common::Harness;

const MASK: &str = "********";

fn hubspot(token: &str, base_url: &str) -> proto::CreateConnectionRequest {
    proto::CreateConnectionRequest {
        name: "crm".into(),
        destination: Some(proto::create_connection_request::Destination::Hubspot(
            proto::HubspotConfig {
                token: token.into(),
                base_url: base_url.into(),
                ..Default::default()
            },
        )),
        policy: None,
    }
}

#[tokio::test]
async fn saas_connections_are_validated_sealed_and_masked() {
    let harness = Harness::new().await;
    let running = harness.start_router().await;
    let mut router = running.client.router.clone();

    let missing = router
        .create_connection(hubspot("", ""))
        .await
        .expect_err("a token is required");
    assert_eq!(missing.code(), Code::InvalidArgument);
    assert!(
        missing.message().contains("hubspot.token"),
        "{}",
        missing.message()
    );
    let private = router
        .create_connection(hubspot("pat-na1-secret", "http://10.0.0.1"))
        .await
        .expect_err("a private base URL is refused");
    assert!(
        private.message().contains("hubspot.base_url"),
        "{}",
        private.message()
    );

    let created = router
        .create_connection(hubspot("pat-na1-secret", "http://127.0.0.1:9"))
        .await
        .expect("created")
        .into_inner()
        .connection
        .expect("connection");
    assert_eq!(created.kind, "hubspot");
    assert_eq!(created.webhook, None);
    assert_eq!(
        created.hubspot,
        Some(proto::HubspotConfig {
            token: MASK.into(),
            id_property: "email".into(),
            base_url: "http://127.0.0.1:9".into(),
            no_batching: false,
        })
    );
    assert!(created.signing_secret.is_empty());
    let client = harness.pool.get().await.expect("client");
    let rows = client
        .query(
            "SELECT c.config, s.field, s.ciphertext FROM connections c \
             JOIN connection_secrets s ON s.connection_id = c.id",
            &[],
        )
        .await
        .expect("rows");
    assert_eq!(rows.len(), 1, "one sealed token so far");
    let config: serde_json::Value = rows[0].get(0);
    assert_eq!(
        config,
        serde_json::json!({"base_url": "http://127.0.0.1:9", "id_property": "email", "batch": true})
    );
    assert_eq!(rows[0].get::<_, String>(1), "token");
    let ciphertext: Vec<u8> = rows[0].get(2);
    assert!(!String::from_utf8_lossy(&ciphertext).contains("pat-na1-secret"));

    let mailchimp = router
        .create_connection(proto::CreateConnectionRequest {
            name: "newsletter".into(),
            destination: Some(proto::create_connection_request::Destination::Mailchimp(
                proto::MailchimpConfig {
                    api_key: "0123abcd-us6".into(),
                    list_id: "57afe96172".into(),
                    ..Default::default()
                },
            )),
            policy: None,
        })
        .await
        .expect("created")
        .into_inner()
        .connection
        .expect("connection");
    let shown = mailchimp.mailchimp.expect("mailchimp settings");
    assert_eq!(
        (shown.api_key.as_str(), shown.status_if_new.as_str()),
        (MASK, "subscribed")
    );

    let salesforce = router
        .create_connection(proto::CreateConnectionRequest {
            name: "sales".into(),
            destination: Some(proto::create_connection_request::Destination::Salesforce(
                proto::SalesforceConfig {
                    client_id: "3MVG9.client".into(),
                    client_secret: "s3cr3t".into(),
                    external_id_field: "Ext_Id__c".into(),
                    ..Default::default()
                },
            )),
            policy: None,
        })
        .await
        .expect("created")
        .into_inner()
        .connection
        .expect("connection");
    assert_eq!(
        salesforce.salesforce,
        Some(proto::SalesforceConfig {
            client_id: "3MVG9.client".into(),
            client_secret: MASK.into(),
            login_url: String::new(),
            object: "Lead".into(),
            external_id_field: "Ext_Id__c".into(),
            api_version: "v60.0".into(),
        })
    );

    let listed = router
        .list_connections(proto::ListConnectionsRequest::default())
        .await
        .expect("list")
        .into_inner()
        .connections;
    assert_eq!(listed.len(), 3);
}

#[tokio::test]
async fn new_credentials_make_a_rejected_connection_active_again() {
    let mut harness = Harness::new().await;
    // Made active again, the connection's deliveries are re-enqueued by it.
    let _delivery = harness.start_delivery().await;
    let running = harness.start_router().await;
    let mut router = running.client.router.clone();
    let created = router
        .create_connection(hubspot("pat-old", ""))
        .await
        .expect("created")
        .into_inner()
        .connection
        .expect("connection");
    let client = harness.pool.get().await.expect("client");
    // What the delivery engine does when HubSpot answers 401.
    client
        .execute(
            "UPDATE connections SET state = 'needs_credentials', state_reason = 'HTTP 401'",
            &[],
        )
        .await
        .expect("mark");
    let get = |id: String| proto::GetConnectionRequest { id };
    let waiting = router
        .get_connection(get(created.id.clone()))
        .await
        .expect("get")
        .into_inner()
        .connection
        .expect("connection");
    assert_eq!(waiting.state(), proto::ConnectionState::NeedsCredentials);

    let wrong_kind = router
        .update_connection(proto::UpdateConnectionRequest {
            id: created.id.clone(),
            webhook: Some(proto::WebhookConfig {
                url: "http://127.0.0.1:9/hook".into(),
                headers: Default::default(),
            }),
            ..Default::default()
        })
        .await
        .expect_err("a HubSpot connection takes no webhook settings");
    assert_eq!(wrong_kind.code(), Code::InvalidArgument);

    let masked = proto::UpdateConnectionRequest {
        id: created.id.clone(),
        hubspot: Some(proto::HubspotConfig {
            token: MASK.into(),
            id_property: "email".into(),
            base_url: String::new(),
            no_batching: false,
        }),
        ..Default::default()
    };
    let kept = router
        .update_connection(masked)
        .await
        .expect("update")
        .into_inner();
    let kept = kept.connection.expect("connection");
    assert_eq!(kept.state(), proto::ConnectionState::NeedsCredentials);

    let fresh = proto::UpdateConnectionRequest {
        id: created.id.clone(),
        hubspot: Some(proto::HubspotConfig {
            token: "pat-new".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let updated = router
        .update_connection(fresh)
        .await
        .expect("update")
        .into_inner();
    let connection = updated.connection.expect("connection");
    assert_eq!(connection.state(), proto::ConnectionState::Active);
    assert_eq!(connection.state_reason, "");
    let keyring = switchyard_tenancy::secrets::Keyring::from_config(&harness.config.secrets)
        .expect("keyring");
    let id = switchyard_core::ids::ConnectionId::parse(&created.id).expect("id");
    let token = switchyard_tenancy::secrets::store::read(
        &client,
        &keyring,
        id,
        &switchyard_tenancy::secrets::SecretField::Token,
    )
    .await
    .expect("read")
    .expect("a token");
    assert_eq!(secrecy::ExposeSecret::expose_secret(&token), "pat-new");
}
