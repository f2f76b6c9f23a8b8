//! Validation speed with a warm cache: a 1 KiB payload against a
//! 20-property schema (`fixture`), one core (criterion runs one thread).
//!
//! `cargo bench -p switchyard-registry --bench validation`
//!
//! - `warm_cache/parsed`: cache lookup + validation of a parsed payload;
//! - `warm_cache/from_text`: the same, parsing the JSON text first, which is
//!   what `ValidatePayload` does per call;
//! - `warm_cache/five_violations`: an invalid payload, every violation
//!   collected.

mod fixture;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Value;
use switchyard_registry::cache::ValidatorCache;
use switchyard_registry::{schema, validate};
use uuid::Uuid;

fn validation(c: &mut Criterion) {
    let checked =
        schema::check(&fixture::schema().to_string()).expect("the fixture schema is valid");
    let cache = ValidatorCache::default();
    let workspace = Uuid::now_v7();
    cache.insert(workspace, fixture::EVENT_TYPE, 1, checked.validator);

    let payload = fixture::payload();
    let text = payload.to_string();
    assert_eq!(text.len(), 1024, "the payload is 1 KiB");
    let invalid = fixture::invalid_payload();
    let warm = || cache.get(workspace, fixture::EVENT_TYPE, 1).expect("warm");
    assert!(validate::check(&warm(), &payload).is_valid());
    assert_eq!(validate::check(&warm(), &invalid).violations.len(), 5);

    let mut group = c.benchmark_group("warm_cache");
    group.throughput(Throughput::Elements(1));
    group.bench_function("parsed", |b| {
        b.iter(|| validate::check(&warm(), black_box(&payload)))
    });
    group.bench_function("from_text", |b| {
        b.iter(|| {
            let parsed: Value = serde_json::from_str(black_box(&text)).expect("json");
            validate::check(&warm(), &parsed)
        })
    });
    group.bench_function("five_violations", |b| {
        b.iter(|| validate::check(&warm(), black_box(&invalid)))
    });
    group.finish();
}

criterion_group!(benches, validation);
criterion_main!(benches);
