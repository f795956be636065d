//! Property tests: no input makes the decoders panic, and valid events survive a round trip
//! through both envelopes.

use proptest::prelude::*;
use serde_json::{Value, json};
use synchub_protocol::{
    ClientEvent, HubEvent, RrIntervals, decode_ws_frame, decode_ws_frame_bytes,
};

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,24}".prop_map(Value::String),
        prop_oneof![Just("NaN"), Just("Infinity"), Just(""), Just("grief")]
            .prop_map(|text| Value::String(text.to_owned())),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        let keys = prop_oneof![
            Just("intention".to_owned()),
            Just("category".to_owned()),
            Just("note".to_owned()),
            Just("coherence".to_owned()),
            Just("rr".to_owned()),
            Just("seq".to_owned()),
            Just("endedAt".to_owned()),
            Just("consent".to_owned()),
            Just("research".to_owned()),
            Just("device".to_owned()),
            Just("kind".to_owned()),
            Just("strapCode".to_owned()),
            Just("clientTime".to_owned()),
            Just("userId".to_owned()),
            Just("role".to_owned()),
            "[a-zA-Z]{1,8}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(keys, inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn event_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(ClientEvent::NAMES.to_vec()).prop_map(str::to_owned),
        "\\PC{0,16}",
    ]
}

proptest! {
    // No failure persistence: proptest cannot place its regression files for a `tests/`
    // module, and a failure prints its minimal input anyway.
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn decoding_arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = decode_ws_frame(&text);
        let _ = HubEvent::from_frame(&text);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode_ws_frame_bytes(&bytes);
    }

    #[test]
    fn decoding_arbitrary_payloads_never_panics(name in event_name(), data in arbitrary_json()) {
        let direct = ClientEvent::decode(&name, &data);
        let framed = decode_ws_frame(&json!({ "event": name, "data": data }).to_string());
        // Both envelopes agree on what they accept.
        prop_assert_eq!(direct.is_ok(), framed.is_ok());
        if let Ok(event) = direct {
            // What was accepted re-encodes to something accepted and equal.
            prop_assert_eq!(decode_ws_frame(&event.to_frame()), Ok(event));
        }
    }

    #[test]
    fn valid_rr_batches_round_trip(
        rr in prop::collection::vec(0.5f64..60_000.0, 1..=300),
        ended_at in proptest::option::of(0u64..=9_007_199_254_740_991),
        seq in proptest::option::of(0u64..=9_007_199_254_740_991),
    ) {
        let event = ClientEvent::RrIntervals(RrIntervals { rr, ended_at, seq });
        prop_assert_eq!(decode_ws_frame(&event.to_frame()), Ok(event.clone()));
        let (name, data) = event.to_socketio();
        prop_assert_eq!(ClientEvent::decode(name, &data.unwrap_or(Value::Null)), Ok(event));
    }
}
