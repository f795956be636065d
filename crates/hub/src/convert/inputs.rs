//! Client events as the engine task's domain inputs ([`ClientInput`]), and a join's fields as
//! the session engine's `JoinRequest`. The private note of an intention is dropped here.

use synchub_protocol as wire;
use synchub_session as domain;

use super::{device_from_wire, intention_from_wire};
use crate::client_input::{ClientInput, JoinFields};

/// The domain input of a validated client event; `None` for `hello`, which only the edge
/// handles (it carries the handshake).
pub fn client_input(event: wire::ClientEvent) -> Option<ClientInput> {
    Some(match event {
        wire::ClientEvent::Hello(_) => return None,
        wire::ClientEvent::JoinSession(join) => ClientInput::Join(join_fields(&join)),
        wire::ClientEvent::UpdateCoherence(update) => ClientInput::Score {
            coherence: update.coherence,
        },
        wire::ClientEvent::RrIntervals(batch) => ClientInput::Beats(rr_batch(batch)),
        wire::ClientEvent::SetIntention(set) => {
            ClientInput::Intention(intention_from_wire(set.intention.as_ref()))
        }
        wire::ClientEvent::ClaimStrap(claim) => ClientInput::ClaimStrap {
            code: claim.strap_code,
        },
        wire::ClientEvent::LeaveSession => ClientInput::Leave,
        wire::ClientEvent::TimeSync(request) => ClientInput::TimeSync {
            client_time_ms: request.client_time,
        },
    })
}

/// What a `join_session` (or a strap assignment) says about the joiner.
pub fn join_fields(join: &wire::JoinSession) -> JoinFields {
    JoinFields {
        intention: intention_from_wire(join.intention.as_ref()),
        research_consent: join.consent.map(|consent| consent.research),
        device: device_from_wire(join.device.as_ref()),
    }
}

/// A join as the engine takes it; `pseudonym` is already the HMAC.
pub fn join_request(
    join: &JoinFields,
    pseudonym: String,
    clock_offset_ms: Option<f64>,
) -> domain::JoinRequest {
    domain::JoinRequest {
        pseudonym,
        intention: join.intention,
        research_consent: join.research_consent.unwrap_or(false),
        device: join.device,
        clock_offset_ms,
    }
}

fn rr_batch(batch: wire::RrIntervals) -> domain::RrBatch {
    domain::RrBatch {
        rr_ms: batch.rr,
        #[allow(clippy::cast_precision_loss)] // ≤ 2^53: exact.
        ended_at_client_ms: batch.ended_at.map(|ms| ms as f64),
        seq: batch.seq,
    }
}

/// The wire event an input stands for, to name it in error messages.
pub fn event_name(input: &ClientInput) -> &'static str {
    match input {
        ClientInput::Join(_) => "join_session",
        ClientInput::Beats(_) => "rr_intervals",
        ClientInput::Score { .. } => "update_coherence",
        ClientInput::Intention(_) => "set_intention",
        ClientInput::Leave => "leave_session",
        ClientInput::TimeSync { .. } => "time_sync",
        ClientInput::ClaimStrap { .. } => "claim_strap",
    }
}

#[cfg(test)]
mod tests {
    use synchub_session::record::{DeviceKind, IntentionCategory};

    use super::*;

    fn input_of(frame: &str) -> Option<ClientInput> {
        client_input(wire::decode_ws_frame(frame).expect("a valid frame"))
    }

    #[test]
    fn every_client_event_but_hello_has_its_input_named_after_it() {
        for (frame, name) in [
            (r#"{"event":"join_session","data":{}}"#, "join_session"),
            (
                r#"{"event":"rr_intervals","data":{"rr":[800]}}"#,
                "rr_intervals",
            ),
            (
                r#"{"event":"update_coherence","data":{"coherence":50}}"#,
                "update_coherence",
            ),
            (
                r#"{"event":"set_intention","data":{"intention":null}}"#,
                "set_intention",
            ),
            (r#"{"event":"leave_session"}"#, "leave_session"),
            (
                r#"{"event":"time_sync","data":{"clientTime":12.5}}"#,
                "time_sync",
            ),
            (
                r#"{"event":"claim_strap","data":{"strapCode":"AB12"}}"#,
                "claim_strap",
            ),
        ] {
            let input = input_of(frame).unwrap_or_else(|| panic!("{frame} has an input"));
            assert_eq!(event_name(&input), name);
        }
        assert_eq!(input_of(r#"{"event":"hello","data":{}}"#), None);
    }

    #[test]
    fn a_join_keeps_its_fields_and_drops_the_note() {
        let input = input_of(
            r#"{"event":"join_session","data":{"intention":{"category":"grief","note":"private"},"consent":{"research":true},"device":{"kind":"ios"}}}"#,
        );
        let Some(ClientInput::Join(fields)) = input else {
            panic!("a join: {input:?}");
        };
        assert_eq!(
            fields,
            JoinFields {
                intention: Some(IntentionCategory::Grief),
                research_consent: Some(true),
                device: DeviceKind::Ios,
            }
        );
        let request = join_request(&fields, "pseudonym".to_owned(), Some(-20.0));
        assert!(request.research_consent);
        assert_eq!(request.clock_offset_ms, Some(-20.0));
    }

    #[test]
    fn beats_keep_their_times_and_sequence_number() {
        let input = input_of(
            r#"{"event":"rr_intervals","data":{"rr":[812.5,790],"endedAt":1700000000123,"seq":4}}"#,
        );
        assert_eq!(
            input,
            Some(ClientInput::Beats(domain::RrBatch {
                rr_ms: vec![812.5, 790.0],
                ended_at_client_ms: Some(1_700_000_000_123.0),
                seq: Some(4),
            }))
        );
    }
}
