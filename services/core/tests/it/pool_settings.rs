//! `db::pool_with_settings` applies its settings to every new session.

use switchyard_core::db;
use switchyard_testkit::TestDatabase;

#[tokio::test]
async fn pooled_sessions_start_with_the_settings() -> anyhow::Result<()> {
    let database = TestDatabase::create().await?;
    let pool = db::pool_with_settings(
        &database.url,
        2,
        &[("enable_seqscan", "off"), ("plan_cache_mode", "auto")],
    )?;
    let first = pool.get().await?;
    let second = pool.get().await?;
    for client in [&first, &second] {
        let row = client.query_one("SHOW enable_seqscan", &[]).await?;
        assert_eq!(row.get::<_, String>(0), "off");
    }
    let plain = db::pool(&database.url, 1)?.get().await?;
    let row = plain.query_one("SHOW enable_seqscan", &[]).await?;
    assert_eq!(row.get::<_, String>(0), "on");
    Ok(())
}
