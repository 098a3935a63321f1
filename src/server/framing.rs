//! Spotting an HTTP/1.1 request head that carries both `Content-Length` and
//! `Transfer-Encoding` (RFC 9112 §6.3: a request-smuggling vector the server should refuse).
//!
//! hyper reads such a request as chunked, drops the `Content-Length` header before the
//! handler sees it, and closes the connection after answering — so the handler alone cannot
//! tell it apart from a plain chunked request. This pure scanner watches the raw inbound
//! lines instead: a block of lines (up to an empty line) with both header names sets a flag
//! the handler reads. Bodies cannot cause a false alarm in practice: the API's bodies are
//! JSON (no raw line breaks) and chunk-size lines are hex.

const CONTENT_LENGTH: &[u8] = b"content-length:";
const TRANSFER_ENCODING: &[u8] = b"transfer-encoding:";
const PREFIX: usize = 18; // the longer of the two names

/// Follows line boundaries across read chunks.
#[derive(Debug, Clone, Default)]
pub struct FramingScanner {
    prefix: [u8; PREFIX],
    /// Bytes of the current line seen (only the first [`PREFIX`] are kept).
    line_len: usize,
    saw_length: bool,
    saw_encoding: bool,
    conflict: bool,
}

impl FramingScanner {
    /// A scanner at the start of a connection.
    pub fn new() -> FramingScanner {
        FramingScanner::default()
    }

    /// True once any head on this connection had both headers.
    pub fn conflict(&self) -> bool {
        self.conflict
    }

    /// Feeds the next inbound bytes; returns [`FramingScanner::conflict`].
    pub fn feed(&mut self, bytes: &[u8]) -> bool {
        for &b in bytes {
            if b == b'\n' {
                self.end_line();
            } else {
                if self.line_len < PREFIX {
                    self.prefix[self.line_len] = b.to_ascii_lowercase();
                }
                self.line_len = self.line_len.saturating_add(1);
            }
        }
        self.conflict
    }

    fn end_line(&mut self) {
        let kept = &self.prefix[..self.line_len.min(PREFIX)];
        let empty = self.line_len == 0 || (self.line_len == 1 && kept == b"\r");
        if empty {
            self.saw_length = false;
            self.saw_encoding = false;
        } else if kept.starts_with(CONTENT_LENGTH) {
            self.saw_length = true;
        } else if kept.starts_with(TRANSFER_ENCODING) {
            self.saw_encoding = true;
        }
        if self.saw_length && self.saw_encoding {
            self.conflict = true;
        }
        self.line_len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMUGGLE: &[u8] = b"POST /v1/fetch HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\
        Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n";

    #[test]
    fn both_headers_in_one_head_conflict_whatever_the_chunking() {
        for size in [1, 3, 17, SMUGGLE.len()] {
            let mut scanner = FramingScanner::new();
            for chunk in SMUGGLE.chunks(size) {
                scanner.feed(chunk);
            }
            assert!(scanner.conflict(), "chunk size {size}");
        }
    }

    #[test]
    fn case_and_order_do_not_matter() {
        let mut scanner = FramingScanner::new();
        assert!(
            scanner.feed(
                b"POST / HTTP/1.1\r\nTRANSFER-ENCODING: chunked\r\ncOnTeNt-LeNgTh: 3\r\n\r\n"
            )
        );
    }

    #[test]
    fn one_framing_header_per_head_is_fine() {
        let mut scanner = FramingScanner::new();
        let two_requests = b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}\
            POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
        assert!(!scanner.feed(two_requests));
    }

    #[test]
    fn header_names_inside_values_do_not_count() {
        let mut scanner = FramingScanner::new();
        assert!(!scanner.feed(
            b"GET / HTTP/1.1\r\nX-Note: content-length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
        ));
    }
}
