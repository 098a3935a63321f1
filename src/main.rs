//! The `portcullis` binary: a thin CLI over the library.
#![forbid(unsafe_code)]

fn main() {}
