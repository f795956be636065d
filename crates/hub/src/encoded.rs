//! A hub event serialised once, ready for both transports: a broadcast to 2 000 phones is one
//! `serde_json` call, not 2 000. The engine task makes one [`Encoded`] per event and hands the
//! same bytes to every recipient's connection.

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use serde_json::value::RawValue;
use synchub_protocol::HubEvent;

/// One event, serialised.
#[derive(Debug)]
pub struct Encoded {
    pub name: &'static str,
    /// The `/ws` text frame `{"event": NAME, "data": …}`; clones share the bytes.
    pub frame: Utf8Bytes,
    /// The payload alone, for Socket.IO's `42["name", payload]` framing.
    pub payload: Box<RawValue>,
}

impl Encoded {
    pub fn new(event: &HubEvent) -> Arc<Encoded> {
        let data = event.data();
        // Hub payloads are plain data (strings, finite numbers, maps): serialising cannot fail.
        let payload_text = serde_json::to_string(&data).unwrap_or_else(|_| "null".to_owned());
        let name = event.name();
        let frame = Utf8Bytes::from(format!(r#"{{"event":"{name}","data":{payload_text}}}"#));
        let payload = RawValue::from_string(payload_text)
            .unwrap_or_else(|_| RawValue::from_string("null".to_owned()).expect("null is JSON"));
        Arc::new(Encoded {
            name,
            frame,
            payload,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_frame_and_payload_carry_the_same_json() {
        let event = HubEvent::RrAck(synchub_protocol::RrAck { seq: 7 });
        let encoded = Encoded::new(&event);
        assert_eq!(
            encoded.frame.as_str(),
            r#"{"event":"rr_ack","data":{"seq":7}}"#
        );
        assert_eq!(encoded.payload.get(), r#"{"seq":7}"#);
        assert_eq!(HubEvent::from_frame(encoded.frame.as_str()).unwrap(), event);
    }
}
