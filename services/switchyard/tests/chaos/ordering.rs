//! Per-key ordering with delivery replicas as separate OS processes: one
//! registry, ingest and router, two `switchyard serve delivery` processes,
//! a receiver that fails about one request in four, and one delivery
//! process killed (`kill -9`) mid-run. Three accounts emit fifty events
//! each, every account one event after the other; per account the receiver
//! must see the events in emit order (a retried or redelivered head may
//! repeat, never go back), and every event must arrive.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, ensure};
use secrecy::SecretString;
use switchyard::receiver::{Behaviour, Receiver};
use switchyard_client::{Client, Endpoints, proto};
use tokio::time::Instant;

use super::lead_schema;
use super::replicas::{CATCH_UP, Deployment, redis_url};

const ACCOUNTS: [&str; 3] = ["acct_a", "acct_b", "acct_c"];
const PER_ACCOUNT: usize = 50;

/// About one status in four is a 500, in a fixed scattered pattern.
fn flaky(count: usize) -> Vec<u16> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            if state.is_multiple_of(4) { 500 } else { 204 }
        })
        .collect()
}

/// A workspace whose `lead.created` events go to `receiver` over an ordered
/// connection, keyed by `payload.id`.
async fn ordered_workspace(deployment: &Deployment, receiver: &Receiver) -> anyhow::Result<Client> {
    let pool = deployment.pool()?;
    let hasher =
        switchyard_tenancy::auth::KeyHasher::new(Some(&SecretString::from(deployment.pepper)));
    let (_, api_key) = switchyard_tenancy::auth::create_workspace(&pool, &hasher, "ordering")
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let endpoints = Endpoints {
        registry: deployment.registry.endpoint(),
        ingest: deployment.ingests[0].endpoint(),
        router: deployment.routers[0].endpoint(),
        delivery: deployment.deliveries[1].endpoint(),
    };
    let client = Client::connect_lazy(&endpoints, &api_key).context("SDK client")?;
    client
        .register_schema("lead.created", &lead_schema(), "a lead")
        .await?;
    let policy = proto::DeliveryPolicy {
        ordering: Some(proto::OrderingPolicy {
            dead_letter: proto::DeadLetterOrdering::Block.into(),
        }),
        retry: Some(proto::RetryPolicy {
            policy: Some(proto::retry_policy::Policy::Exponential(
                proto::ExponentialBackoff {
                    initial: Some(prost_types::Duration {
                        seconds: 0,
                        nanos: 50_000_000,
                    }),
                    factor: 1.5,
                    cap: Some(prost_types::Duration {
                        seconds: 0,
                        nanos: 500_000_000,
                    }),
                    max_attempts: 40,
                },
            )),
        }),
        ..Default::default()
    };
    let connection = client
        .create_webhook_with_policy(
            "ordered",
            &receiver.url("/hook"),
            HashMap::new(),
            Some(policy),
        )
        .await?;
    receiver.set_secret(&connection.signing_secret);
    client
        .router
        .clone()
        .create_rule(proto::CreateRuleRequest {
            event_type: "lead.created".to_string(),
            connection_id: connection.id,
            ordering_key: "event.payload.id".to_string(),
            ..Default::default()
        })
        .await?;
    Ok(client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_account_arrives_in_emit_order_across_delivery_processes_and_a_kill()
-> anyhow::Result<()> {
    let mut deployment = Deployment::start("ordering", &redis_url(), 1, 1, 2).await?;
    let behaviour = Behaviour {
        script: flaky(300),
        default_status: 204,
        delay: Duration::from_millis(10),
    };
    let receiver = Receiver::start(SocketAddr::from(([127, 0, 0, 1], 0)), behaviour).await?;
    let client = ordered_workspace(&deployment, &receiver).await?;

    let emitters: Vec<_> = ACCOUNTS
        .iter()
        .map(|account| {
            let client = client.clone();
            tokio::spawn(async move {
                for n in 0..PER_ACCOUNT {
                    let payload =
                        serde_json::json!({ "id": account, "email": format!("{n}@example.com") });
                    client.emit("lead.created", &payload).await?;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    // The kill: once a fifth of the events have been received.
    let deadline = Instant::now() + CATCH_UP;
    while receiver.received().len() < ACCOUNTS.len() * PER_ACCOUNT / 5 {
        ensure!(
            Instant::now() < deadline,
            "no progress:\n{}",
            deployment.delivery_logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    deployment.deliveries[0].kill()?;
    for emitter in emitters {
        emitter.await??;
    }

    let pool = deployment.pool()?;
    loop {
        let succeeded: i64 = pool
            .get()
            .await?
            .query_one(
                "SELECT count(*) FROM deliveries WHERE status = 'succeeded'",
                &[],
            )
            .await?
            .get(0);
        if succeeded as usize == ACCOUNTS.len() * PER_ACCOUNT {
            break;
        }
        ensure!(
            Instant::now() < deadline + CATCH_UP,
            "{succeeded} delivered:\n{}",
            deployment.delivery_logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut per_account: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for webhook in receiver.received() {
        let body = webhook.json()?;
        let n: u64 = body["email"]
            .as_str()
            .and_then(|email| email.split('@').next())
            .and_then(|n| n.parse().ok())
            .context("email")?;
        per_account
            .entry(body["id"].as_str().unwrap_or_default().to_string())
            .or_default()
            .push(n);
    }
    for account in ACCOUNTS {
        let seen = per_account.get(account).context("account never seen")?;
        ensure!(
            seen.windows(2).all(|pair| pair[0] <= pair[1]),
            "{account} out of order: {seen:?}"
        );
        let mut distinct = seen.clone();
        distinct.dedup();
        ensure!(
            distinct == (0..PER_ACCOUNT as u64).collect::<Vec<_>>(),
            "{account} missed events: {distinct:?}"
        );
    }
    ensure!(
        receiver.received().len() > ACCOUNTS.len() * PER_ACCOUNT,
        "no failure was retried"
    );
    Ok(())
}
