//! Test data: deterministic pseudo-random files and their SHA-256.
//!
//! Owns nothing but the paths it is given.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

const BUF_BYTES: usize = 1024 * 1024;

/// Write `size` pseudo-random bytes to `path` (created or truncated). The
/// same `seed` always gives the same contents. Fast: xorshift-style PRNG,
/// 1 MiB buffers.
pub fn write_random_file(path: impl AsRef<Path>, size: u64, seed: u64) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(BUF_BYTES, File::create(path)?);
    let mut rng = SplitMix64(seed ^ 0x5EED_5EED_5EED_5EED);
    let mut buf = vec![0u8; BUF_BYTES];
    let mut left = size;
    while left > 0 {
        let n = left.min(BUF_BYTES as u64) as usize;
        for word in buf[..n].chunks_mut(8) {
            let v = rng.next().to_le_bytes();
            word.copy_from_slice(&v[..word.len()]);
        }
        out.write_all(&buf[..n])?;
        left -= n as u64;
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(())
}

/// Deterministic pseudo-random bytes (the same stream as [`write_random_file`]).
pub fn random_bytes(size: usize, seed: u64) -> Vec<u8> {
    let mut rng = SplitMix64(seed ^ 0x5EED_5EED_5EED_5EED);
    let mut v = vec![0u8; size];
    for word in v.chunks_mut(8) {
        let r = rng.next().to_le_bytes();
        word.copy_from_slice(&r[..word.len()]);
    }
    v
}

/// Lower-case hex SHA-256 of the file at `path`.
pub fn sha256_file(path: impl AsRef<Path>) -> io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; BUF_BYTES];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_bytes(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

struct SplitMix64(u64);

impl SplitMix64 {
    #[inline]
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_file_is_deterministic_and_sized() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        let c = dir.path().join("c");
        write_random_file(&a, 3 * 1024 * 1024 + 5, 7).unwrap();
        write_random_file(&b, 3 * 1024 * 1024 + 5, 7).unwrap();
        write_random_file(&c, 3 * 1024 * 1024 + 5, 8).unwrap();
        assert_eq!(std::fs::metadata(&a).unwrap().len(), 3 * 1024 * 1024 + 5);
        assert_eq!(sha256_file(&a).unwrap(), sha256_file(&b).unwrap());
        assert_ne!(sha256_file(&a).unwrap(), sha256_file(&c).unwrap());
        assert_eq!(
            std::fs::read(&a).unwrap(),
            random_bytes(3 * 1024 * 1024 + 5, 7)
        );
    }

    #[test]
    fn sha256_known_value() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(
            sha256_file(&p).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(sha256_bytes(b"abc"), sha256_file(&p).unwrap());
    }
}
