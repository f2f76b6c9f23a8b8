//! The state enums against the migrated schema: each enum's values are
//! exactly its column's `CHECK` list, and they bind and read back as text
//! (single values and `text[]`).

use switchyard_core::states::{AttemptTrigger, ConnectionState, DeliveryStatus};
use switchyard_testkit::TestDatabase;
use tokio_postgres::NoTls;

/// The quoted values of the `CHECK` constraint on `table.column`.
async fn check_values(client: &tokio_postgres::Client, table: &str, column: &str) -> Vec<String> {
    let row = client
        .query_one(
            "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c \
             WHERE c.conrelid = $1::text::regclass AND c.contype = 'c' \
               AND pg_get_constraintdef(c.oid) LIKE '%' || $2 || ' = ANY%'",
            &[&table, &format!("({column}")],
        )
        .await
        .expect("the CHECK constraint");
    let definition: String = row.get(0);
    definition
        .split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn texts<T: ToString>(all: &[T]) -> Vec<String> {
    all.iter().map(ToString::to_string).collect()
}

#[tokio::test]
async fn enums_are_the_check_constraints_and_bind_as_text() {
    let database = TestDatabase::create().await.expect("database");
    let (client, connection) = tokio_postgres::connect(&database.url, NoTls)
        .await
        .expect("connect");
    let driver = tokio::spawn(connection);

    assert_eq!(
        check_values(&client, "deliveries", "status").await,
        texts(DeliveryStatus::ALL)
    );
    assert_eq!(
        check_values(&client, "deliveries", "next_trigger").await,
        texts(AttemptTrigger::ALL)
    );
    assert_eq!(
        check_values(&client, "delivery_attempts", "trigger").await,
        texts(AttemptTrigger::ALL)
    );
    assert_eq!(
        check_values(&client, "connections", "state").await,
        texts(ConnectionState::ALL)
    );

    let row = client
        .query_one(
            "SELECT $1::text, $2::text[], $3::varchar, 'replay'::text",
            &[
                &DeliveryStatus::Dead,
                &ConnectionState::HOLDING,
                &ConnectionState::NeedsCredentials,
            ],
        )
        .await
        .expect("bound states");
    assert_eq!(row.get::<_, String>(0), "dead");
    assert_eq!(
        row.get::<_, Vec<ConnectionState>>(1),
        ConnectionState::HOLDING
    );
    assert_eq!(
        row.get::<_, ConnectionState>(2),
        ConnectionState::NeedsCredentials
    );
    assert_eq!(row.get::<_, AttemptTrigger>(3), AttemptTrigger::Replay);
    let unknown = client
        .query_one("SELECT 'lost'::text", &[])
        .await
        .expect("a text");
    assert!(unknown.try_get::<_, DeliveryStatus>(0).is_err());
    driver.abort();
}
