//! Trying a failed node again: which failures may be transient, and how
//! long to wait before the next attempt.

use std::time::Duration;

use crate::error::{FailureKind, NodeFailure};
use crate::policy::Policy;

/// Whether a failure may go away on another attempt.
pub(super) fn retryable(failure: &NodeFailure, policy: &Policy) -> bool {
    match &failure.kind {
        FailureKind::Error { kind, .. } => kind != "invalid-input" && kind != "unknown-node",
        FailureKind::Host => true,
        FailureKind::Trap
        | FailureKind::Timeout(_)
        | FailureKind::Memory { .. }
        | FailureKind::Limit { .. }
        | FailureKind::OutputTooLarge { .. } => policy.retry.violations,
        FailureKind::WrongOutputType | FailureKind::NotSelected { .. } => false,
    }
}

/// The wait after failed attempt `attempt`: the policy's backoff doubled per
/// attempt, at most a minute, times a jitter between 0.5 and 1.5.
pub(super) fn backoff(policy: &Policy, attempt: u32) -> Duration {
    let base = policy
        .retry
        .backoff
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(Duration::from_secs(60));
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    base.mul_f64(0.5 + f64::from(nanos % 1000) / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_stops_at_a_minute() {
        let mut policy = Policy::default();
        policy.retry.backoff = Duration::from_millis(100);
        for (attempt, base) in [(1u32, 100u64), (2, 200), (3, 400), (30, 60_000)] {
            let wait = backoff(&policy, attempt);
            assert!(
                wait >= Duration::from_millis(base / 2) && wait <= Duration::from_millis(base * 3 / 2),
                "attempt {attempt}: {wait:?}"
            );
        }
    }

    #[test]
    fn budget_violations_are_not_retried_unless_asked() {
        let failure = |kind| NodeFailure::new("n", "s", kind, "m");
        let mut policy = Policy::default();
        assert!(!retryable(&failure(FailureKind::Trap), &policy));
        assert!(retryable(&failure(FailureKind::Host), &policy));
        assert!(!retryable(
            &failure(FailureKind::Error { kind: "invalid-input".into(), input: None }),
            &policy
        ));
        policy.retry.violations = true;
        assert!(retryable(&failure(FailureKind::Timeout(Duration::from_secs(1))), &policy));
        assert!(!retryable(&failure(FailureKind::WrongOutputType), &policy));
    }
}
