//! Champion / challenger: a second model scores every transaction beside the one in production.
//!
//! Judging a new model on last month's held-out data says little about next month's fraud. Running it on the live
//! stream, on exactly the transactions the champion scores, gives both models' online quality and drift on the
//! same traffic (see [`crate::monitor`]) before the challenger is trusted with alerts. Its scores are written to
//! their own output and raise nothing; a challenger that fails leaves its score empty and never stops the champion.

use crate::error::EngineError;
use crate::flow::Joined;

use super::{BatchScores, InProcessScorer, Scorer};

/// The champion's scorer with a challenger model scoring the same batches in process.
pub struct WithChallenger<'a, 'm> {
    champion: &'a mut dyn Scorer,
    challenger: InProcessScorer<'m>,
    scratch: BatchScores,
    /// Batches the challenger failed on.
    failures: u64,
}

impl<'a, 'm> WithChallenger<'a, 'm> {
    /// Scores with `champion`, and with `challenger` beside it.
    pub fn new(champion: &'a mut dyn Scorer, challenger: InProcessScorer<'m>) -> WithChallenger<'a, 'm> {
        WithChallenger { champion, challenger, scratch: BatchScores::default(), failures: 0 }
    }
}

impl Scorer for WithChallenger<'_, '_> {
    fn score(&mut self, rows: &[Joined], out: &mut BatchScores) -> Result<(), EngineError> {
        // Row i of the batch is row `first + i` of `out`, for both models.
        let first = out.p.len();
        self.champion.score(rows, out)?;
        out.challenger.resize(first, f64::NAN);
        self.scratch.clear();
        match self.challenger.score(rows, &mut self.scratch) {
            Ok(()) => out.challenger.extend_from_slice(&self.scratch.p),
            Err(e) => {
                self.failures += 1;
                if self.failures.is_power_of_two() {
                    tracing::warn!("challenger model failed on a batch ({} so far): {e}", self.failures);
                }
                out.challenger.extend(std::iter::repeat_n(f64::NAN, rows.len()));
            }
        }
        Ok(())
    }
}
