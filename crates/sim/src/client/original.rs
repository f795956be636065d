//! The original platform's web client, as the hub meets it: it announces no protocol version,
//! sends no `time_sync`, joins with `{intention: {category}}` only, and sends its own score
//! with `update_coherence` when its 1 s timer fires — a timer it re-arms on every event it
//! receives (its page re-renders on each, and the render re-arms it). What it needs from the
//! hub is the original cadence: a quiet second after the answer to its own score.
//!
//! The participant's loop (`mod.rs`) owns the timer; this module is what the client sends.

use std::time::{Duration, Instant};

use synchub_protocol::{ClientEvent, Intention, IntentionCategory, JoinSession, UpdateCoherence};

use super::Participant;
use crate::connection::{ClientError, Connection};
use crate::stats::CrowdStats;

/// The original web client's timer: a score goes out this long after the last event.
pub(super) const SCORE_DELAY: Duration = Duration::from_secs(1);

/// How long a computed score is reused. The original client recomputed its score every few
/// seconds, not at each send; here it also keeps thousands of simulated clients cheap.
const SCORE_REFRESH: Duration = Duration::from_secs(5);

/// The original web client's `join_session`: an intention and nothing of the hub's additions.
pub(super) fn join_event(intention: Option<IntentionCategory>) -> ClientEvent {
    ClientEvent::JoinSession(JoinSession {
        intention: intention.map(|category| Intention {
            category,
            note: None,
        }),
        chant_id: None,
        consent: None,
        device: None,
    })
}

impl Participant {
    /// The timer fired: the client's score goes out (nothing while its heart is still warming
    /// up), and the next `group_metrics_update` counts as its answer.
    pub(super) async fn send_original_score(
        &mut self,
        connection: &mut Connection,
    ) -> Result<(), ClientError> {
        let Some(score) = self.original_score() else {
            return Ok(());
        };
        let update = ClientEvent::UpdateCoherence(UpdateCoherence { coherence: score });
        self.send(connection, &update).await?;
        CrowdStats::increment(&self.stats.scores_sent);
        self.score_sent_at = Some(Instant::now());
        Ok(())
    }

    fn original_score(&mut self) -> Option<f64> {
        let now = Instant::now();
        match self.score {
            Some((computed, score)) if now.duration_since(computed) < SCORE_REFRESH => Some(score),
            _ => {
                let score = self.beats.current_score()?;
                self.score = Some((now, score));
                Some(score)
            }
        }
    }
}
