//! `TokenProvider::token()` on a fresh token: the hot path every outbound call takes.
//!
//! `cargo bench --bench token`. The future is polled once with a no-op waker (a fresh token
//! is ready at the first poll), so the figure is the provider's cost, not an executor's.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // bench code: a panic is the failure report

mod common;

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant, SystemTime};

use b2b_auth_token::{
    AccessToken, BoxFuture, FetchedToken, SourceKey, TokenError, TokenProvider, TokenSource,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// A source that hands out day-long tokens without a network.
struct DayLongTokens(SourceKey);

impl TokenSource for DayLongTokens {
    fn fetch(&self) -> BoxFuture<'_, Result<FetchedToken, TokenError>> {
        Box::pin(async {
            let lifetime = Duration::from_secs(86_400);
            let token = AccessToken::new(
                "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjYXItb3JkZXJzIn0.c2lnbmF0dXJl",
                None,
                SystemTime::now() + lifetime,
            )?;
            Ok(FetchedToken::new(token, lifetime, tokio::time::Instant::now()))
        })
    }

    fn key(&self) -> &SourceKey {
        &self.0
    }
}

fn fresh_provider() -> TokenProvider {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let key =
        SourceKey::new("https://idp.bench/token", "car-orders", ["tires/orders.write"], None, []);
    runtime.block_on(async {
        let provider =
            TokenProvider::builder(DayLongTokens(key)).background_refresh(false).build().unwrap();
        provider.token().await.unwrap();
        provider
    })
}

/// Polls `token()` once; a fresh token is ready at once.
fn token_now(provider: &TokenProvider) -> AccessToken {
    common::ready(provider.token()).unwrap()
}

fn bench(c: &mut Criterion) {
    let provider = fresh_provider();
    let mut group = c.benchmark_group("token");
    group.throughput(Throughput::Elements(1));
    group.bench_function("fresh/1-thread", |b| {
        b.iter(|| black_box(token_now(black_box(&provider))))
    });
    group.bench_function("try_token/1-thread", |b| b.iter(|| black_box(provider.try_token())));
    group.bench_function("fresh/2-threads", |b| {
        b.iter_custom(|iters| {
            // Both threads call at once; the figure is the time per call seen by each.
            let start = Arc::new(Barrier::new(2));
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let (provider, start) = (provider.clone(), start.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        let began = Instant::now();
                        for _ in 0..iters {
                            black_box(token_now(&provider));
                        }
                        began.elapsed()
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).max().unwrap_or_default()
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
