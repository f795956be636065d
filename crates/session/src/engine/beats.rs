//! What participants measure: client-computed scores, RR batches (checked, stored, moved into
//! hub time and analysed), and the store's word that a batch is durable, which is what a
//! phone's `rr_ack` waits for.
//!
//! A batch costs O(batch) plus the coherence windows it completes; the rest of the room is not
//! touched.

use synchub_hrv::{ALGORITHM, Beat, Quality, StreamConfig, StreamingAnalyzer, validate_rr_ms};

use super::{Engine, suspend};
use crate::effect::{Message, MessageBody};
use crate::error::EngineError;
use crate::ids::ParticipantId;
use crate::input::{RrBatch, RrOutcome};
use crate::participant::{LatestScore, SeqState};
use crate::record::{BeatBatch, ParticipantMetrics, Record, ScoreSource, StoredBeat};
use crate::timing::{FEEDBACK_INTERVAL_MS, MAX_BEAT_AGE_MS, MAX_BEAT_AHEAD_MS};

/// RR values outside this range are stored flagged as artifacts; cleaning corrects them.
const PHYSIOLOGICAL_RR_MS: (f64, f64) = (250.0, 2500.0);

impl Engine {
    /// A client-computed score (`update_coherence`, 0–100). Counts in the group exactly like a
    /// hub score; emits a `Metrics` record and `personal_feedback` at once, which restarts the
    /// participant's 5 s feedback cadence: the next periodic one comes 5 s after this answer,
    /// not a moment later with the same news. (A client that re-renders on every event — the
    /// original web client re-arms its 1 s "send my score" timer — would otherwise have each
    /// send pushed back by a redundant message every 5 s.)
    pub fn handle_update_coherence(
        &mut self,
        now_ms: i64,
        participant: ParticipantId,
        score: f64,
    ) -> Result<(), EngineError> {
        let now_ms = self.advance_to(now_ms);
        if !(score.is_finite() && (0.0..=100.0).contains(&score)) {
            return Err(EngineError::InvalidScore { score });
        }
        let session = self
            .session
            .as_mut()
            .ok_or(EngineError::UnknownParticipant(participant))?;
        let slot = session.slot_of(participant)?;
        let latest = LatestScore {
            score,
            at_ms: now_ms,
            quality: Quality::Good,
            source: ScoreSource::Client,
            ratio: None,
            breaths_per_min: None,
            hr_bpm: None,
        };
        let Some(entry) = session.slots[slot].as_mut() else {
            return Err(EngineError::UnknownParticipant(participant));
        };
        entry.set_latest(latest);
        let connected = entry.is_connected();
        if connected {
            // The answer below is this period's feedback: the next comes 5 s after it.
            entry.next_feedback_ms = now_ms + FEEDBACK_INTERVAL_MS;
        }
        self.records.push_back(Record::Metrics(ParticipantMetrics {
            session_id: session.id(),
            participant_id: participant,
            at_ms: now_ms,
            source: ScoreSource::Client,
            algorithm: None,
            score,
            ratio: None,
            peak_hz: None,
            breaths_per_min: None,
            hr_bpm: None,
            mean_rr_ms: None,
            sdnn_ms: None,
            rmssd_ms: None,
            artifact_fraction: None,
            quality: Quality::Good,
        }));
        if connected {
            self.messages.push_back(Message {
                to: participant,
                body: MessageBody::PersonalFeedback(session.feedback(now_ms, &latest)),
            });
        }
        Ok(())
    }

    /// A batch of RR intervals. Beat times: the last beat ended at `ended_at_client_ms`
    /// converted to hub time with the participant's clock offset (arrival time without it);
    /// each earlier beat ended one RR before the next. Order of checks: the participant, RR
    /// validity (`InvalidRr`), a duplicate `seq` (dropped; `rr_ack` again if already durable),
    /// the time range (`StaleBeats`: older than 5 min or more than 5 s ahead), the participant's
    /// beat clock (`BeatsOutrunTime`; beats in beat time already accepted are dropped, with or
    /// without `seq`, see `beat_clock`; a `seq`'d batch left empty is still stored and so
    /// acknowledged). An accepted
    /// batch emits `Record::Beats` (raw values, out-of-range RR flagged as artifacts), feeds
    /// the participant's analyser and emits a `Metrics` record per new 5-second score.
    pub fn handle_rr_intervals(
        &mut self,
        now_ms: i64,
        participant: ParticipantId,
        batch: RrBatch,
    ) -> Result<RrOutcome, EngineError> {
        let now_ms = self.advance_to(now_ms);
        let session = self
            .session
            .as_mut()
            .ok_or(EngineError::UnknownParticipant(participant))?;
        let session_id = session.id();
        let entry = session.participant_mut(participant)?;
        for (index, &rr_ms) in batch.rr_ms.iter().enumerate() {
            validate_rr_ms(rr_ms).map_err(|reason| EngineError::InvalidRr { index, reason })?;
        }
        if let Some(seq) = batch.seq
            && let Some(state) = entry.seqs.get(seq)
        {
            if state == SeqState::Durable && entry.is_connected() {
                self.messages.push_back(Message {
                    to: participant,
                    body: MessageBody::RrAck { seq },
                });
            }
            return Ok(RrOutcome::Duplicate);
        }
        let now_f64 = now_ms as f64;
        let last_ended_ms = batch
            .ended_at_client_ms
            .map_or(now_f64, |client_ms| client_ms + entry.clock.offset_ms());
        let span_ms: f64 = batch.rr_ms.iter().skip(1).sum();
        let first_ended_ms = last_ended_ms - span_ms;
        if !batch.rr_ms.is_empty() {
            // Time the hub's computer slept is not age: the phone kept these beats for it.
            let oldest_age_ms = now_f64 - first_ended_ms;
            let awake_age_ms =
                oldest_age_ms - suspend::asleep_between(&self.sleeps, first_ended_ms, now_f64);
            let newest_ahead_ms = last_ended_ms - now_f64;
            if !(awake_age_ms <= MAX_BEAT_AGE_MS && newest_ahead_ms <= MAX_BEAT_AHEAD_MS) {
                return Err(EngineError::StaleBeats {
                    oldest_age_ms,
                    newest_ahead_ms,
                });
            }
        }
        let mut beats = Vec::with_capacity(batch.rr_ms.len());
        let mut time_ms = first_ended_ms;
        for (index, &rr_ms) in batch.rr_ms.iter().enumerate() {
            if index > 0 {
                time_ms += rr_ms;
            }
            beats.push(StoredBeat {
                time_ms,
                rr_ms,
                artifact: !(PHYSIOLOGICAL_RR_MS.0..=PHYSIOLOGICAL_RR_MS.1).contains(&rr_ms),
            });
        }
        let beat_times: Vec<(f64, f64)> = beats
            .iter()
            .map(|beat| (beat.time_ms, beat.rr_ms))
            .collect();
        let admission = entry
            .beat_clock
            .admit(&beat_times, now_f64)
            .map_err(|outrun| EngineError::BeatsOutrunTime {
                ahead_ms: outrun.ahead_ms,
            })?;
        entry.beat_clock.apply(
            &admission,
            suspend::oldest_arrivable_ms(&self.sleeps, now_f64),
        );
        let repeated = admission.repeated();
        let mut index = 0;
        beats.retain(|_| {
            index += 1;
            admission.is_new(index - 1)
        });
        if beats.is_empty() && batch.seq.is_none() {
            return Ok(RrOutcome::Accepted {
                out_of_order: 0,
                new_scores: 0,
                repeated,
            });
        }
        if let Some(seq) = batch.seq {
            // A batch whose beats were all stored before still goes to the store (empty), so
            // its `rr_ack` follows the batches that did store them.
            entry.seqs.insert_pending(seq);
        }
        // Taken out while the batch is analysed, so the participant's score can be updated
        // between results; put back below.
        let mut analyzer = entry.analyzer.take().unwrap_or_else(|| {
            Box::new(StreamingAnalyzer::new(StreamConfig {
                window_secs: 64.0,
                step_secs: 5.0,
                warmup_secs: 32.0,
                clean: true,
            }))
        });
        let mut out_of_order = 0;
        for beat in &beats {
            let pushed = analyzer.push(
                Beat {
                    time_secs: beat.time_ms / 1000.0,
                    rr_ms: beat.rr_ms,
                },
                &mut self.workspace,
            );
            if pushed.is_err() {
                out_of_order += 1;
            }
        }
        self.records.push_back(Record::Beats(BeatBatch {
            session_id,
            participant_id: participant,
            seq: batch.seq,
            beats,
        }));
        let mut new_scores = 0;
        while let Some(window) = analyzer.poll_result(&mut self.workspace) {
            new_scores += 1;
            let time_domain = analyzer.window_time_domain();
            let at_ms = (window.end_secs * 1000.0).round() as i64;
            let latest = LatestScore {
                score: window.score,
                at_ms,
                quality: window.quality,
                source: ScoreSource::Hub,
                ratio: Some(window.ratio),
                breaths_per_min: Some(window.breaths_per_min),
                hr_bpm: time_domain.map(|time| time.hr_bpm),
            };
            self.records.push_back(Record::Metrics(ParticipantMetrics {
                session_id,
                participant_id: participant,
                at_ms,
                source: ScoreSource::Hub,
                algorithm: Some(ALGORITHM),
                score: window.score,
                ratio: Some(window.ratio),
                peak_hz: Some(window.peak_hz),
                breaths_per_min: Some(window.breaths_per_min),
                hr_bpm: time_domain.map(|time| time.hr_bpm),
                mean_rr_ms: time_domain.map(|time| time.mean_rr_ms),
                sdnn_ms: time_domain.map(|time| time.sdnn_ms),
                rmssd_ms: time_domain.map(|time| time.rmssd_ms),
                artifact_fraction: Some(window.artifact_fraction),
                quality: window.quality,
            }));
            entry.set_latest(latest);
        }
        entry.analyzer = Some(analyzer);
        Ok(RrOutcome::Accepted {
            out_of_order,
            new_scores,
            repeated,
        })
    }

    /// The store confirmed the `Record::Beats` with this seq durable: the participant gets
    /// `rr_ack {seq}` (if connected; after a resume, a resend is re-acknowledged). Unknown
    /// participants and seqs are ignored: the session may have completed meanwhile.
    pub fn handle_beats_durable(&mut self, participant: ParticipantId, seq: u64) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let Ok(entry) = session.participant_mut(participant) else {
            return;
        };
        // A seq already durable (a second confirmation) is not acknowledged again.
        if entry.seqs.mark_durable(seq) && entry.is_connected() {
            self.messages.push_back(Message {
                to: participant,
                body: MessageBody::RrAck { seq },
            });
        }
    }
}
