//! Each user's chat rate: a token bucket per user in this process (every message may call
//! a model, which costs money and time). Over it, 429 with `Retry-After`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::http::ApiError;

pub struct RateLimit {
    /// Messages a user may send at once after a pause.
    burst: f64,
    /// Messages per second the bucket refills.
    rate: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimit {
    /// `per_minute` messages a minute for each user, `burst` of them at once.
    pub fn new(per_minute: u32, burst: u32) -> Self {
        RateLimit {
            burst: burst.max(1) as f64,
            rate: per_minute.max(1) as f64 / 60.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The rate of `CHAT_MESSAGES_PER_MINUTE` (default 30) and `CHAT_BURST` (default 10).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let number = |key: &str, default: u32| match get(key) {
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| anyhow::anyhow!("{key}={v:?} is not a positive number")),
            None => Ok(default),
        };
        Ok(RateLimit::new(
            number("CHAT_MESSAGES_PER_MINUTE", 30)?,
            number("CHAT_BURST", 10)?,
        ))
    }

    /// Takes one message from `user`'s bucket, or answers how long to wait.
    pub fn check(&self, user: &str) -> Result<(), ApiError> {
        self.check_at(user, Instant::now())
    }

    fn check_at(&self, user: &str, now: Instant) -> Result<(), ApiError> {
        let mut buckets = self.buckets.lock().expect("rate buckets");
        // Full buckets carry no information: forget them, so the map stays small.
        if buckets.len() > 10_000 {
            let (burst, rate) = (self.burst, self.rate);
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = buckets.entry(user.to_owned()).or_insert((self.burst, now));
        let available =
            (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        if available < 1.0 {
            let wait = Duration::from_secs_f64((1.0 - available) / self.rate);
            return Err(ApiError::TooManyRequests(wait.as_secs().max(1)));
        }
        *tokens = available - 1.0;
        *at = now;
        Ok(())
    }
}

impl Default for RateLimit {
    /// 30 messages a minute, 10 at once.
    fn default() -> Self {
        RateLimit::new(30, 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate_and_each_user_apart() {
        let limit = RateLimit::new(60, 3);
        let start = Instant::now();
        for _ in 0..3 {
            limit.check_at("alice", start).unwrap();
        }
        match limit.check_at("alice", start) {
            Err(ApiError::TooManyRequests(wait)) => assert_eq!(wait, 1),
            other => panic!("{other:?}"),
        }
        limit.check_at("bob", start).unwrap();
        // One message a second comes back.
        limit
            .check_at("alice", start + Duration::from_millis(1001))
            .unwrap();
        assert!(limit
            .check_at("alice", start + Duration::from_millis(1002))
            .is_err());
    }
}
