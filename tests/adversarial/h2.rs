//! Just enough HTTP/2 framing and HPACK (literal fields, no Huffman) to script abuse.

pub use portcullis::testing::h2_frames::*;

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
