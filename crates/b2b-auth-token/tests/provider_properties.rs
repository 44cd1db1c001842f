//! Properties of `TokenProvider` over random lifetimes, latencies and failures, on a paused
//! clock: an expired token is never handed out, and a valid one is never withheld for long.
//!
//! The identity provider here is scripted in-process, because a paused clock and real sockets
//! do not mix (tokio would jump the clock while a socket waits); the real-server behaviour is
//! covered by `provider.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code: a panic is the failure report

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use b2b_auth_token::{
    AccessToken, BoxFuture, FetchedToken, SourceKey, TokenError, TokenErrorKind, TokenProvider,
    TokenSource,
};
use proptest::prelude::*;
use tokio::time::Instant;

#[derive(Clone, Debug)]
enum Step {
    Token { lifetime: Duration, latency: Duration },
    Fail { transient: bool, latency: Duration },
}

#[derive(Default)]
struct Script {
    steps: Mutex<VecDeque<Step>>,
    /// Expiry of every token handed out by the "server", by generation.
    expiries: Mutex<HashMap<u64, Instant>>,
}

#[derive(Clone)]
struct ScriptedIdp {
    key: SourceKey,
    script: Arc<Script>,
}

static CASES: AtomicU64 = AtomicU64::new(0);

impl ScriptedIdp {
    fn new(steps: Vec<Step>) -> Self {
        // A key per case: flights are merged process-wide by key.
        let case = CASES.fetch_add(1, Ordering::Relaxed);
        let key = SourceKey::new(&format!("https://idp.test/{case}"), "client", [], None, []);
        Self {
            key,
            script: Arc::new(Script { steps: Mutex::new(steps.into()), ..Script::default() }),
        }
    }

    fn expiry(&self, token: &AccessToken) -> Instant {
        self.script.expiries.lock().unwrap()[&token.generation()]
    }
}

impl TokenSource for ScriptedIdp {
    fn fetch(&self) -> BoxFuture<'_, Result<FetchedToken, TokenError>> {
        Box::pin(async move {
            let sent_at = Instant::now();
            let step = self.script.steps.lock().unwrap().pop_front();
            // Once the script is over, the server works with hour-long tokens.
            let step = step.unwrap_or(Step::Token {
                lifetime: Duration::from_secs(3600),
                latency: Duration::ZERO,
            });
            match step {
                Step::Token { lifetime, latency } => {
                    tokio::time::sleep(latency).await;
                    let token =
                        AccessToken::new("scripted.token", None, SystemTime::now() + lifetime)?;
                    // The server started the clock when the request arrived: at send time.
                    self.script
                        .expiries
                        .lock()
                        .unwrap()
                        .insert(token.generation(), sent_at + lifetime);
                    Ok(FetchedToken::new(token, lifetime, sent_at))
                }
                Step::Fail { transient, latency } => {
                    tokio::time::sleep(latency).await;
                    let kind = if transient {
                        TokenErrorKind::ServerError
                    } else {
                        TokenErrorKind::InvalidClient
                    };
                    Err(TokenError::new(kind))
                }
            }
        })
    }

    fn key(&self) -> &SourceKey {
        &self.key
    }
}

/// Durations on the scale where bugs live: short tokens whose latency is comparable to the
/// stale margin, with the occasional long one.
fn duration(short_ms: u64, long_ms: u64) -> impl Strategy<Value = Duration> {
    prop_oneof![4 => 0..short_ms, 1 => 0..long_ms].prop_map(Duration::from_millis)
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (duration(30_000, 7_200_000), duration(4_000, 12_000)).prop_map(|(lifetime, latency)| Step::Token {
            lifetime: lifetime.max(Duration::from_millis(1)),
            latency,
        }),
        2 => (any::<bool>(), duration(4_000, 12_000)).prop_map(|(transient, latency)| Step::Fail { transient, latency }),
    ]
}

#[derive(Clone, Debug)]
enum Call {
    Token { after: Duration },
    Invalidate { after: Duration },
}

fn call() -> impl Strategy<Value = Call> {
    prop_oneof![
        6 => duration(15_000, 4_000_000).prop_map(|after| Call::Token { after }),
        1 => duration(15_000, 60_000).prop_map(|after| Call::Invalidate { after }),
    ]
}

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn an_expired_token_is_never_handed_out(
        steps in proptest::collection::vec(step(), 0..12),
        calls in proptest::collection::vec(call(), 1..40),
        background in any::<bool>(),
        concurrency in 1usize..4,
    ) {
        paused_runtime().block_on(async {
            let idp = ScriptedIdp::new(steps);
            let provider = TokenProvider::builder(idp.clone())
                                .background_refresh(background)
                .backoff(Duration::from_millis(100), Duration::from_secs(5))
                .refusal_cooldown(Duration::ZERO) // every refusal refreshes
                .build()
                .unwrap();
            let mut last: Option<AccessToken> = None;
            for call in calls {
                match call {
                    Call::Token { after } => {
                        tokio::time::sleep(after).await;
                        let callers: Vec<_> = (0..concurrency)
                            .map(|_| { let p = provider.clone(); tokio::spawn(async move { p.token().await }) })
                            .collect();
                        for caller in callers {
                            if let Ok(token) = caller.await.unwrap() {
                                let now = Instant::now();
                                assert!(now < idp.expiry(&token), "handed out a token {:?} past its expiry", now - idp.expiry(&token));
                                if let Some(refused) = &last {
                                    let replaced = token.generation() != refused.generation();
                                    assert!(replaced || !provider.health().status.eq(&b2b_auth_token::TokenStatus::Stale));
                                }
                            }
                        }
                    }
                    Call::Invalidate { after } => {
                        tokio::time::sleep(after).await;
                        if let Some(token) = provider.try_token() {
                            provider.invalidate(&token);
                            last = Some(token.clone());
                            if let Ok(next) = provider.token().await {
                                assert_ne!(next.generation(), token.generation(), "an invalidated token came back");
                            }
                        }
                    }
                }
            }
        });
    }

    #[test]
    fn a_working_server_always_yields_a_token(
        lifetimes in proptest::collection::vec(1_000u64..7_200_000, 1..8),
        gaps in proptest::collection::vec(0u64..10_000_000, 1..30),
    ) {
        paused_runtime().block_on(async {
            let steps = lifetimes
                .into_iter()
                .map(|ms| Step::Token { lifetime: Duration::from_millis(ms), latency: Duration::from_millis(ms / 20) })
                .collect();
            let idp = ScriptedIdp::new(steps);
            let provider = TokenProvider::builder(idp.clone()).build().unwrap();
            for gap in gaps {
                tokio::time::sleep(Duration::from_millis(gap)).await;
                let token = provider.token().await.expect("a healthy server always gives a token");
                assert!(Instant::now() < idp.expiry(&token));
            }
        });
    }
}
