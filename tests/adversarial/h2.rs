//! Just enough HTTP/2 framing and HPACK (literal fields, no Huffman) to script abuse.

pub const DATA: u8 = 0;
pub const HEADERS: u8 = 1;
pub const RST_STREAM: u8 = 3;
pub const SETTINGS: u8 = 4;
pub const PUSH_PROMISE: u8 = 5;
pub const PING: u8 = 6;
pub const WINDOW_UPDATE: u8 = 8;
pub const CONTINUATION: u8 = 9;
pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;

pub const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 3;
pub const SETTINGS_INITIAL_WINDOW_SIZE: u16 = 4;
pub const SETTINGS_MAX_FRAME_SIZE: u16 = 5;

pub fn frame(ty: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len();
    assert!(len < 1 << 24);
    let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, ty, flags];
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

pub fn settings(pairs: &[(u16, u32)]) -> Vec<u8> {
    let mut payload = Vec::new();
    for (id, value) in pairs {
        payload.extend_from_slice(&id.to_be_bytes());
        payload.extend_from_slice(&value.to_be_bytes());
    }
    frame(SETTINGS, 0, 0, &payload)
}

pub fn settings_ack() -> Vec<u8> {
    frame(SETTINGS, ACK, 0, &[])
}

/// HPACK integer with an `n`-bit prefix (RFC 7541 section 5.1).
fn integer(first: u8, n: u32, mut value: usize, out: &mut Vec<u8>) {
    let max = (1usize << n) - 1;
    if value < max {
        out.push(first | value as u8);
        return;
    }
    out.push(first | max as u8);
    value -= max;
    while value >= 128 {
        out.push((value % 128 + 128) as u8);
        value /= 128;
    }
    out.push(value as u8);
}

/// A literal header field without indexing, new name (RFC 7541 section 6.2.2).
pub fn literal(name: &str, value: &str, out: &mut Vec<u8>) {
    out.push(0x00);
    integer(0, 7, name.len(), out);
    out.extend_from_slice(name.as_bytes());
    integer(0, 7, value.len(), out);
    out.extend_from_slice(value.as_bytes());
}

/// `:status 200` from the static table.
pub const STATUS_200: u8 = 0x88;

/// A whole response on stream 1: SETTINGS ACK, HEADERS, DATA with END_STREAM.
pub fn response(content_type: &str, extra: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut block = vec![STATUS_200];
    literal("content-type", content_type, &mut block);
    for (n, v) in extra {
        literal(n, v, &mut block);
    }
    let mut out = settings_ack();
    out.extend(frame(HEADERS, END_HEADERS, 1, &block));
    out.extend(frame(DATA, END_STREAM, 1, body));
    out
}
