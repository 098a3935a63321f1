//! Input: bytes read back from the fleet's Redis (which is not trusted with integrity),
//! plus a payload to seal.
//!
//! Properties of `fleet::envelope::Sealer`:
//! - arbitrary stored bytes open only if they are exactly what the sealer would have written
//!   for that key (a forged or altered entry is refused with a typed error);
//! - seal → open round-trips the payload and expiry; the same entry under another key, after
//!   its expiry, or with any single byte flipped does not open;
//! - no input panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::fleet::envelope::Sealer;

const KEY: &str = "portcullis:v1:j:fuzz";
const NOW: u64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    let sealer = Sealer::new(b"a fleet secret of at least thirty-two bytes");
    if let Ok(opened) = sealer.open(KEY, data, NOW) {
        assert_eq!(
            sealer.seal(KEY, opened.expires_unix, &opened.payload),
            data,
            "opened bytes the sealer did not write"
        );
    }

    let expires = NOW + 60;
    let sealed = sealer.seal(KEY, expires, data);
    let opened = sealer.open(KEY, &sealed, NOW).expect("own entry opens");
    assert_eq!(opened.payload, data);
    assert_eq!(opened.expires_unix, expires);
    assert!(sealer.open("portcullis:v1:j:other", &sealed, NOW).is_err());
    assert!(sealer.open(KEY, &sealed, expires).is_err(), "expired entry opened");
    let at = data.first().map_or(0, |&b| usize::from(b)) % sealed.len();
    let mut flipped = sealed.clone();
    flipped[at] ^= 0x01;
    assert!(sealer.open(KEY, &flipped, NOW).is_err(), "altered byte {at} opened");
});
