//! Counting inbound HTTP/2 control frames, without parsing them.
//!
//! hyper/h2 already bound what a peer can make the server *hold* for PINGs (one pending
//! PONG), SETTINGS (one pending ACK), reset streams (`max_pending_accept_reset_streams`,
//! `max_local_error_reset_streams`) and header lists (`max_header_list_size`, CONTINUATION);
//! none of them bounds how *often* a peer may send them, and each costs the server a
//! wake-up, a decode and often a write. A PING / SETTINGS / WINDOW_UPDATE / PRIORITY flood
//! keeps a core busy per connection. This module is the pure half of the fix: a scanner that
//! follows the 9-byte frame headers of the inbound byte stream (skipping payloads) and says
//! how many control frames a chunk held, and a per-second budget. The I/O half is
//! [`super::h2_guard`].

use std::time::{Duration, Instant};

/// The HTTP/2 client connection preface (RFC 9113 §3.4).
pub const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

const FRAME_HEADER_LEN: usize = 9;
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;

/// Whether a frame counts against the control budget: everything but DATA, HEADERS and
/// CONTINUATION (which carry requests and are bounded by h2 itself), plus empty DATA frames
/// that do not end their stream (they carry nothing and are a known flood, CVE-2019-9518).
pub fn is_control(frame_type: u8, flags: u8, length: usize) -> bool {
    match frame_type {
        DATA => length == 0 && flags & END_STREAM == 0,
        HEADERS | CONTINUATION => false,
        _ => true,
    }
}

/// Where the scanner is in the byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Matching the preface; the count of bytes matched so far.
    Preface(usize),
    /// Not h2 (HTTP/1.1): nothing to count.
    NotH2,
    /// Collecting a frame header; bytes collected so far.
    Header(usize),
    /// Skipping a frame payload; bytes left.
    Payload(usize),
}

/// Follows frame boundaries across arbitrary read chunks.
#[derive(Debug, Clone)]
pub struct FrameScanner {
    state: State,
    header: [u8; FRAME_HEADER_LEN],
}

impl Default for FrameScanner {
    fn default() -> Self {
        FrameScanner::new()
    }
}

impl FrameScanner {
    /// A scanner at the start of a connection (before the preface).
    pub fn new() -> FrameScanner {
        FrameScanner {
            state: State::Preface(0),
            header: [0; FRAME_HEADER_LEN],
        }
    }

    /// False once the first bytes showed this is not an h2 connection.
    pub fn is_h2_or_undecided(&self) -> bool {
        self.state != State::NotH2
    }

    /// True once the whole preface was seen: this is an h2 connection.
    pub fn is_h2(&self) -> bool {
        matches!(self.state, State::Header(_) | State::Payload(_))
    }

    /// Feeds the next inbound bytes; returns how many control frames began in them.
    pub fn feed(&mut self, mut bytes: &[u8]) -> u32 {
        let mut control = 0u32;
        while !bytes.is_empty() {
            match self.state {
                State::NotH2 => return control,
                State::Preface(matched) => {
                    let take = (H2_PREFACE.len() - matched).min(bytes.len());
                    if bytes[..take] != H2_PREFACE[matched..matched + take] {
                        self.state = State::NotH2;
                        return control;
                    }
                    bytes = &bytes[take..];
                    self.state = if matched + take == H2_PREFACE.len() {
                        State::Header(0)
                    } else {
                        State::Preface(matched + take)
                    };
                }
                State::Header(have) => {
                    let take = (FRAME_HEADER_LEN - have).min(bytes.len());
                    self.header[have..have + take].copy_from_slice(&bytes[..take]);
                    bytes = &bytes[take..];
                    if have + take < FRAME_HEADER_LEN {
                        self.state = State::Header(have + take);
                        continue;
                    }
                    let h = self.header;
                    let length =
                        usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
                    if is_control(h[3], h[4], length) {
                        control = control.saturating_add(1);
                    }
                    self.state = if length == 0 {
                        State::Header(0)
                    } else {
                        State::Payload(length)
                    };
                }
                State::Payload(left) => {
                    let take = left.min(bytes.len());
                    bytes = &bytes[take..];
                    self.state = if take == left {
                        State::Header(0)
                    } else {
                        State::Payload(left - take)
                    };
                }
            }
        }
        control
    }
}

/// A fixed one-second window of control frames.
#[derive(Debug, Clone)]
pub struct ControlBudget {
    per_second: u32,
    window_start: Instant,
    used: u32,
}

impl ControlBudget {
    /// `per_second` frames allowed in each one-second window starting at `now`.
    pub fn new(per_second: u32, now: Instant) -> ControlBudget {
        ControlBudget {
            per_second,
            window_start: now,
            used: 0,
        }
    }

    /// Spends `frames`; false once the current window's budget is exceeded.
    pub fn spend(&mut self, frames: u32, now: Instant) -> bool {
        if frames == 0 {
            return true;
        }
        if now.saturating_duration_since(self.window_start) >= Duration::from_secs(1) {
            self.window_start = now;
            self.used = 0;
        }
        self.used = self.used.saturating_add(frames);
        self.used <= self.per_second
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(frame_type: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
        let len = payload.len();
        let mut out = vec![
            (len >> 16) as u8,
            (len >> 8) as u8,
            len as u8,
            frame_type,
            flags,
        ];
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(payload);
        out
    }

    fn stream() -> Vec<u8> {
        let mut s = H2_PREFACE.to_vec();
        s.extend(frame(0x4, 0, &[0; 6])); // SETTINGS
        s.extend(frame(0x1, 0x5, &[0xAA; 40])); // HEADERS
        s.extend(frame(0x6, 0, &[7; 8])); // PING
        s.extend(frame(0x8, 0, &[0, 0, 1, 0])); // WINDOW_UPDATE
        s.extend(frame(0x0, 0x1, &[0x55; 300])); // DATA with END_STREAM
        s.extend(frame(0x0, 0, &[])); // empty DATA: control
        s.extend(frame(0x9, 0x4, &[0x11; 5])); // CONTINUATION
        s.extend(frame(0x2, 0, &[0; 5])); // PRIORITY
        s.extend(frame(0xfa, 0, &[1, 2, 3])); // unknown type
        s
    }

    #[test]
    fn counts_control_frames_in_one_chunk() {
        let mut scanner = FrameScanner::new();
        assert_eq!(scanner.feed(&stream()), 6);
        assert!(scanner.is_h2_or_undecided());
    }

    #[test]
    fn counts_the_same_whatever_the_chunking() {
        let bytes = stream();
        for size in [1, 2, 7, 9, 10, 23, 24, 25, 64] {
            let mut scanner = FrameScanner::new();
            let total: u32 = bytes.chunks(size).map(|c| scanner.feed(c)).sum();
            assert_eq!(total, 6, "chunk size {size}");
        }
    }

    #[test]
    fn payload_bytes_that_look_like_frames_are_skipped() {
        let mut s = H2_PREFACE.to_vec();
        // A DATA payload made of PING frame headers must not count.
        let fake: Vec<u8> = (0..10).flat_map(|_| frame(0x6, 0, &[0; 8])).collect();
        s.extend(frame(0x0, 0x1, &fake));
        assert_eq!(FrameScanner::new().feed(&s), 0);
    }

    #[test]
    fn http1_is_not_scanned() {
        let mut scanner = FrameScanner::new();
        assert_eq!(scanner.feed(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n"), 0);
        assert!(!scanner.is_h2_or_undecided());
        assert_eq!(scanner.feed(&frame(0x6, 0, &[0; 8])), 0);
    }

    #[test]
    fn a_partial_preface_is_undecided() {
        let mut scanner = FrameScanner::new();
        assert_eq!(scanner.feed(&H2_PREFACE[..10]), 0);
        assert!(scanner.is_h2_or_undecided());
        assert_eq!(scanner.feed(b"XXXX"), 0);
        assert!(!scanner.is_h2_or_undecided());
    }

    #[test]
    fn budget_allows_up_to_the_limit_per_second() {
        let start = Instant::now();
        let mut budget = ControlBudget::new(10, start);
        assert!(budget.spend(10, start));
        assert!(!budget.spend(1, start + Duration::from_millis(500)));
        assert!(budget.spend(10, start + Duration::from_millis(1_500)));
        assert!(!budget.spend(1, start + Duration::from_millis(1_600)));
        assert!(budget.spend(0, start + Duration::from_millis(1_700)));
    }

    #[test]
    fn control_classification() {
        assert!(is_control(0x6, 0, 8));
        assert!(is_control(0x3, 0, 4));
        assert!(is_control(0x7, 0, 8));
        assert!(!is_control(0x0, 0, 10));
        assert!(!is_control(0x0, END_STREAM, 0));
        assert!(is_control(0x0, 0, 0));
        assert!(!is_control(0x1, 0, 0));
        assert!(!is_control(0x9, 0, 0));
    }
}
