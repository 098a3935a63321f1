//! Hand-built HTTP/2 frames for clients that misbehave on purpose (the attack example and
//! the API-limit tests): a real h2 client cannot send a window of 0 and then idle, or flood
//! PINGs, so these build the bytes directly (RFC 9113 §4.1 frame layout, no Huffman).

use crate::server::control_frames::H2_PREFACE;

/// DATA frame type.
pub const DATA: u8 = 0x0;
/// HEADERS frame type.
pub const HEADERS: u8 = 0x1;
/// RST_STREAM frame type.
pub const RST_STREAM: u8 = 0x3;
/// SETTINGS frame type.
pub const SETTINGS: u8 = 0x4;
/// PUSH_PROMISE frame type.
pub const PUSH_PROMISE: u8 = 0x5;
/// PING frame type.
pub const PING: u8 = 0x6;
/// WINDOW_UPDATE frame type.
pub const WINDOW_UPDATE: u8 = 0x8;
/// CONTINUATION frame type.
pub const CONTINUATION: u8 = 0x9;
/// END_STREAM flag (DATA, HEADERS).
pub const END_STREAM: u8 = 0x1;
/// ACK flag (SETTINGS, PING).
pub const ACK: u8 = 0x1;
/// END_HEADERS flag (HEADERS, CONTINUATION).
pub const END_HEADERS: u8 = 0x4;

/// SETTINGS_MAX_CONCURRENT_STREAMS identifier.
pub const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 3;
/// SETTINGS_INITIAL_WINDOW_SIZE identifier.
pub const SETTINGS_INITIAL_WINDOW_SIZE: u16 = 4;
/// SETTINGS_MAX_FRAME_SIZE identifier.
pub const SETTINGS_MAX_FRAME_SIZE: u16 = 5;

/// One frame: the 9-byte header (24-bit length, type, flags, 31-bit stream id) and the
/// payload. A payload of 16 MiB or more does not fit the length field; callers build small
/// frames on purpose.
pub fn frame(frame_type: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len();
    let mut out = vec![
        (len >> 16) as u8,
        (len >> 8) as u8,
        len as u8,
        frame_type,
        flags,
    ];
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A SETTINGS frame with these `(identifier, value)` pairs.
pub fn settings(pairs: &[(u16, u32)]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(pairs.len() * 6);
    for (id, value) in pairs {
        payload.extend_from_slice(&id.to_be_bytes());
        payload.extend_from_slice(&value.to_be_bytes());
    }
    frame(SETTINGS, 0, 0, &payload)
}

/// The acknowledgement of the peer's SETTINGS.
pub fn settings_ack() -> Vec<u8> {
    frame(SETTINGS, ACK, 0, &[])
}

/// HEADERS (END_STREAM | END_HEADERS) for `GET <path>` over `http`, authority `x`, encoded
/// with static-table indexes and literals.
pub fn get_headers(stream: u32, path: &str) -> Vec<u8> {
    let mut block = vec![0x82, 0x86, 0x04, path.len() as u8];
    block.extend_from_slice(path.as_bytes());
    block.extend_from_slice(&[0x01, 0x01, b'x']);
    frame(HEADERS, END_STREAM | END_HEADERS, stream, &block)
}

/// The client connection preface and a SETTINGS frame; `window_zero` announces an initial
/// stream window of 0, so the server can never send a response body.
pub fn preface(window_zero: bool) -> Vec<u8> {
    let mut out = H2_PREFACE.to_vec();
    let settings: &[u8] = if window_zero {
        &[0, 4, 0, 0, 0, 0]
    } else {
        &[]
    };
    out.extend(frame(SETTINGS, 0, 0, settings));
    out
}

/// What an idle but well-behaved peer answers to the server's frames: takes every complete
/// frame off the front of `pending` (bytes read so far) and returns a PING ACK for each PING,
/// dropping everything else; an incomplete frame stays in `pending` for the next read.
pub fn ping_acks(pending: &mut Vec<u8>) -> Vec<u8> {
    let mut acks = Vec::new();
    let mut at = 0;
    while let Some(header) = pending.get(at..at + 9) {
        let len =
            usize::from(header[0]) << 16 | usize::from(header[1]) << 8 | usize::from(header[2]);
        let Some(payload) = pending.get(at + 9..at + 9 + len) else {
            break;
        };
        if header[3] == PING && header[4] & ACK == 0 {
            acks.extend(frame(PING, ACK, 0, payload));
        }
        at += 9 + len;
    }
    pending.drain(..at);
    acks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_header_carries_length_type_flags_and_stream() {
        let f = frame(PING, 1, 0x0102_0304, &[9; 8]);
        assert_eq!(&f[..9], &[0, 0, 8, PING, 1, 1, 2, 3, 4]);
        assert_eq!(f.len(), 17);
    }

    #[test]
    fn ping_acks_answers_complete_pings_only_and_keeps_the_rest() {
        let mut pending = settings(&[]);
        pending.extend(frame(PING, 0, 0, &[7; 8]));
        pending.extend(frame(PING, ACK, 0, &[1; 8]));
        let partial = frame(PING, 0, 0, &[9; 8]);
        pending.extend_from_slice(&partial[..12]);
        let acks = ping_acks(&mut pending);
        assert_eq!(acks, frame(PING, ACK, 0, &[7; 8]));
        assert_eq!(pending, &partial[..12]);
        pending.extend_from_slice(&partial[12..]);
        assert_eq!(ping_acks(&mut pending), frame(PING, ACK, 0, &[9; 8]));
        assert!(pending.is_empty());
    }

    #[test]
    fn preface_announces_window_zero_only_when_asked() {
        let plain = preface(false);
        assert!(plain.starts_with(H2_PREFACE));
        assert_eq!(
            &plain[H2_PREFACE.len()..],
            &[0, 0, 0, SETTINGS, 0, 0, 0, 0, 0]
        );
        let zero = preface(true);
        assert_eq!(&zero[H2_PREFACE.len() + 9..], &[0, 4, 0, 0, 0, 0]);
    }
}
