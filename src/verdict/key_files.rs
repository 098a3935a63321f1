//! Key files: the only I/O in `verdict`, kept tiny and separate so the rest stays pure.
//! Loading happens once at startup; writing only in `portcullis keygen`.

use std::fs::OpenOptions;
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use super::keys::{KeyError, SigningKey};

/// Largest key file read. A PKCS#8 PEM key is a few hundred bytes; the cap keeps a
/// misconfigured path (`/dev/zero`, a log file) from eating memory at startup.
pub const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// File mode of a key written by `keygen`: owner read/write only, it is a secret.
pub const KEY_FILE_MODE: u32 = 0o600;

/// Reads and parses a PKCS#8 PEM key file; the algorithm comes from the key itself.
pub fn load_key_file(path: &Path) -> Result<SigningKey, KeyError> {
    let unreadable = |source| KeyError::FileUnreadable {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut buf = Vec::new();
    file.take(MAX_KEY_FILE_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(unreadable)?;
    // Held in a zeroizing buffer from here on: these bytes are the secret key.
    let buf = p256::elliptic_curve::zeroize::Zeroizing::new(buf);
    if buf.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(KeyError::FileTooLarge {
            path: path.to_owned(),
            max: MAX_KEY_FILE_BYTES,
        });
    }
    let text = std::str::from_utf8(&buf).map_err(|_| KeyError::NotPkcs8 {
        why: "file is not utf-8 text (a der file? convert it to pem)".to_owned(),
    })?;
    SigningKey::from_pkcs8_pem(text)
}

/// Writes a new key file with mode 0600, refusing to replace an existing file (the old key
/// may be the one verifiers trust). The mode is set at creation, so the secret is never
/// readable by others even for an instant.
pub fn write_key_file(path: &Path, pem: &str) -> Result<(), KeyError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(KEY_FILE_MODE)
        .open(path)
        .map_err(|source| match source.kind() {
            io::ErrorKind::AlreadyExists => KeyError::FileExists {
                path: path.to_owned(),
            },
            _ => KeyError::FileUnwritable {
                path: path.to_owned(),
                source,
            },
        })?;
    let written = file
        .write_all(pem.as_bytes())
        .and_then(|()| file.sync_all());
    if let Err(source) = written {
        // Do not leave a truncated key behind for the next start to choke on.
        drop(file);
        let _ignored = std::fs::remove_file(path);
        return Err(KeyError::FileUnwritable {
            path: path.to_owned(),
            source,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SigningAlg;
    use rand::SeedableRng as _;
    use rand::rngs::StdRng;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn keygen_file_is_0600_loads_back_and_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("verdict.pem");
        for (i, alg) in [SigningAlg::EdDSA, SigningAlg::ES256]
            .into_iter()
            .enumerate()
        {
            let path = path.with_extension(format!("{i}.pem"));
            let key = SigningKey::generate(alg, &mut StdRng::seed_from_u64(11));
            let pem = key.to_pkcs8_pem().unwrap();
            write_key_file(&path, &pem).unwrap();

            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");

            let loaded = load_key_file(&path).unwrap();
            assert_eq!(loaded.alg(), alg);
            assert_eq!(loaded.kid(), key.kid());

            let other = SigningKey::generate(alg, &mut StdRng::seed_from_u64(12));
            let err = write_key_file(&path, &other.to_pkcs8_pem().unwrap()).unwrap_err();
            assert_eq!(err.code(), "key_file_exists");
            assert_eq!(
                load_key_file(&path).unwrap().kid(),
                key.kid(),
                "file untouched"
            );
        }
    }

    #[test]
    fn missing_file_is_unreadable() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_key_file(&dir.path().join("nope.pem")).unwrap_err();
        assert_eq!(err.code(), "key_file_unreadable");
        assert!(err.to_string().contains("nope.pem"), "{err}");
    }

    #[test]
    fn oversized_and_binary_files_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.pem");
        std::fs::write(&big, vec![b'A'; MAX_KEY_FILE_BYTES as usize + 1]).unwrap();
        assert_eq!(
            load_key_file(&big).unwrap_err().code(),
            "key_file_too_large"
        );
        let bin = dir.path().join("key.der");
        std::fs::write(&bin, [0x30, 0x82, 0xff, 0xfe]).unwrap();
        assert_eq!(load_key_file(&bin).unwrap_err().code(), "key_not_pkcs8");
    }

    #[test]
    fn unwritable_directory_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_key_file(&dir.path().join("no/such/dir/k.pem"), "x").unwrap_err();
        assert_eq!(err.code(), "key_file_unwritable");
    }
}
