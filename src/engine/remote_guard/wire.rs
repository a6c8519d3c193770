//! The first message of a burn remote session, decoded far enough to check the token
//! before anything reaches burn's server. burn's own message types are private to it, so
//! this mirrors the one variant needed, in its encoding (MessagePack through rmp-serde:
//! structs as arrays, enum variants as one-entry maps keyed by name), ignoring the rest.

use serde::Deserialize;
use serde::de::IgnoredAny;

#[derive(Deserialize)]
enum WireMessage {
    #[allow(dead_code)] // matched, never read
    Task(IgnoredAny),
    Init(WireInit),
    #[allow(dead_code)]
    Close(IgnoredAny),
}

#[derive(Deserialize)]
struct WireInit {
    #[allow(dead_code)]
    version: u16,
    #[allow(dead_code)]
    session_id: IgnoredAny,
    device_index: u32,
    authorization: serde_bytes::ByteBuf,
}

/// What a session's opening message asks for.
#[derive(Debug, PartialEq, Eq)]
pub struct SessionAsk {
    pub device_index: u32,
    pub credential: Vec<u8>,
}

/// The `Init` that must open a session: the first frame's only message.
pub fn session_ask(payload: &[u8]) -> Result<SessionAsk, String> {
    let messages: Vec<WireMessage> = rmp_serde::from_slice(payload)
        .map_err(|e| format!("its first message is not a session's opening ({e})"))?;
    match messages.into_iter().next() {
        Some(WireMessage::Init(init)) => Ok(SessionAsk {
            device_index: init.device_index,
            credential: init.authorization.into_vec(),
        }),
        _ => Err("its first message does not open a session".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_init_in_burns_encoding_is_read_and_garbage_is_not() {
        // [ {"Init": [version 2, session id [7], device 0, bin "tok"]} ], as rmp-serde
        // writes burn's `Vec<RemoteMessage>` (the layout its own wire test pins).
        let bytes = [
            &[0x91, 0x81, 0xa4][..],
            b"Init",
            &[0x94, 0x02, 0x91, 0x07, 0x00, 0xc4, 0x03],
            b"tok",
        ]
        .concat();
        let ask = session_ask(&bytes).unwrap();
        assert_eq!(
            ask,
            SessionAsk {
                device_index: 0,
                credential: b"tok".to_vec()
            }
        );
        assert!(session_ask(b"\x91\x81\xa4Task\xc0").is_err());
        assert!(session_ask(&[0xdd, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(session_ask(&[]).is_err());
    }
}
