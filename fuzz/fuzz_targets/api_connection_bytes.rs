//! Input: the raw bytes a peer sends on the API port, split at a point the input chooses
//! (as two reads would split them).
//!
//! Properties of the two inbound scanners the server runs on every connection:
//! - the HTTP/2 control-frame count and the Content-Length + Transfer-Encoding flag do not
//!   depend on how the bytes were split into reads (state carries across reads exactly);
//! - a connection that does not start with the h2 preface counts no control frames;
//! - no input panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::server::control_frames::{FrameScanner, H2_PREFACE};
use portcullis::server::framing::FramingScanner;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, bytes)) = data.split_first() else {
        return;
    };
    let at = usize::from(cut).min(bytes.len());
    let (first, second) = bytes.split_at(at);

    let mut whole = FrameScanner::new();
    let frames_whole = whole.feed(bytes);
    let mut split = FrameScanner::new();
    let frames_split = split.feed(first) + split.feed(second);
    assert_eq!(frames_whole, frames_split, "control frames depend on read boundaries");
    assert_eq!(whole.is_h2(), split.is_h2());
    if !bytes.starts_with(&H2_PREFACE[..H2_PREFACE.len().min(bytes.len())]) {
        assert_eq!(frames_whole, 0, "counted frames on a non-h2 connection");
        assert!(!whole.is_h2_or_undecided());
    }

    let mut whole = FramingScanner::new();
    let conflict_whole = whole.feed(bytes);
    let mut split = FramingScanner::new();
    split.feed(first);
    let conflict_split = split.feed(second);
    assert_eq!(conflict_whole, conflict_split, "framing flag depends on read boundaries");
});
