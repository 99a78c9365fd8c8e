//! Waiting out `CS_ERR_TRY_AGAIN`, which the daemon answers while its services
//! synchronise (right after a node joins or the cluster forms) or while flow control
//! holds a sender back: every caller that must get through loops on it, as corosync's
//! own tools do.

use std::time::{Duration, Instant};

use crate::error::Result;
use crate::CsError;

/// Calls `f` again, `pause` apart, while it fails with TRY_AGAIN and `deadline` has not
/// passed; returns its first other result, or the last TRY_AGAIN once past the deadline.
pub fn retry_try_again<T>(deadline: Instant, pause: Duration, mut f: impl FnMut() -> Result<T>) -> Result<T> {
    loop {
        match f() {
            Err(e) if e.cs_error() == CsError::TryAgain && Instant::now() < deadline => std::thread::sleep(pause),
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    const PAUSE: Duration = Duration::from_millis(1);

    fn cs(code: CsError) -> Error {
        Error::Cs {
            service: "quorum",
            code,
        }
    }

    #[test]
    fn waits_out_try_again_only_until_the_deadline() {
        let mut calls = 0;
        let far = Instant::now() + Duration::from_secs(60);
        let got = retry_try_again(far, PAUSE, || {
            calls += 1;
            if calls < 3 {
                Err(cs(CsError::TryAgain))
            } else {
                Ok(calls)
            }
        });
        assert_eq!(got.unwrap(), 3, "TRY_AGAIN while syncing, then the answer");
        let mut calls = 0;
        let got: Result<()> = retry_try_again(far, PAUSE, || {
            calls += 1;
            Err(cs(CsError::Access))
        });
        assert_eq!(
            (got.unwrap_err().cs_error(), calls),
            (CsError::Access, 1),
            "other errors at once"
        );
        let got: Result<()> = retry_try_again(Instant::now(), PAUSE, || Err(cs(CsError::TryAgain)));
        assert_eq!(got.unwrap_err().cs_error(), CsError::TryAgain, "not past the deadline");
    }
}
