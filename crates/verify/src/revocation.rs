//! The optional second check: asking the server (`POST /api/v1/auth/validate`) whether a
//! token's session is still live, with each answer remembered briefly so that a busy service
//! asks about each token about once per `cache_for`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mana_proto::{AccessTokenClaims, TokenRejection, ValidateRequest, ValidateResponse};

use crate::error::VerifyError;

/// Answers kept at most; past it, expired ones are dropped, then all if still too many.
const MAX_REMEMBERED: usize = 100_000;

/// When the server was asked about a token, and what it said.
type Answer = (Instant, Result<(), TokenRejection>);

pub(crate) struct Revocations {
    cache_for: Duration,
    /// By token id (`jti`).
    answers: Mutex<HashMap<String, Answer>>,
}

impl Revocations {
    pub fn new(cache_for: Duration) -> Self {
        Self { cache_for, answers: Mutex::new(HashMap::new()) }
    }

    pub async fn check(
        &self,
        http: &reqwest::Client,
        validate_url: &str,
        token: &str,
        claims: &AccessTokenClaims,
    ) -> Result<(), VerifyError> {
        if let Some(answer) = self.remembered(&claims.jti) {
            return answer.map_err(VerifyError::Rejected);
        }
        let request = ValidateRequest { token: token.to_owned() };
        let response = http
            .post(validate_url)
            .json(&request)
            .send()
            .await
            .map_err(|e| VerifyError::Unavailable(format!("the server could not be asked: {}", e.without_url())))?;
        if !response.status().is_success() {
            return Err(VerifyError::Unavailable(format!("the server's validation answered {}", response.status())));
        }
        let answer: ValidateResponse = response
            .json()
            .await
            .map_err(|_| VerifyError::Unavailable("the server's validation answer was unreadable".into()))?;
        let answer = if answer.valid { Ok(()) } else { Err(answer.error.unwrap_or(TokenRejection::SessionRevoked)) };
        self.remember(&claims.jti, answer);
        answer.map_err(VerifyError::Rejected)
    }

    fn remembered(&self, jti: &str) -> Option<Result<(), TokenRejection>> {
        let answers = self.answers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        answers.get(jti).filter(|(at, _)| at.elapsed() < self.cache_for).map(|(_, answer)| *answer)
    }

    fn remember(&self, jti: &str, answer: Result<(), TokenRejection>) {
        let mut answers = self.answers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if answers.len() >= MAX_REMEMBERED {
            answers.retain(|_, (at, _)| at.elapsed() < self.cache_for);
            if answers.len() >= MAX_REMEMBERED {
                answers.clear();
            }
        }
        answers.insert(jti.to_owned(), (Instant::now(), answer));
    }
}
