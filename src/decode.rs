//! Turning one record's `data` into bytes: base64, then gzip (every member, capped).

use flate2::{Decompress, FlushDecompress, Status};

use crate::error::RecordError;

/// The two bytes every gzip member starts with.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Decodes base64 `data` into `out` (cleared first).
pub fn decode_base64(data: &str, out: &mut Vec<u8>) -> Result<(), RecordError> {
    out.clear();
    base64_simd::STANDARD
        .decode_append(data.as_bytes(), out)
        .map_err(|_| RecordError::Base64)
}

/// Whether `bytes` starts like a gzip stream.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

/// Decompresses every gzip member of `compressed` into `out` (cleared first), checking
/// each member's CRC-32 and length.
///
/// Each member is inflated in one call into output pre-sized from its trailer, which
/// is much faster than streaming through a reader. The output is capped at
/// `max_bytes`: a few hundred KiB of gzip can expand to gigabytes, and a 128 MB
/// function must never try to hold that.
pub fn gunzip_capped(
    compressed: &[u8],
    max_bytes: usize,
    out: &mut Vec<u8>,
) -> Result<(), RecordError> {
    out.clear();
    let limit = max_bytes.saturating_add(1);
    // The last member's trailer gives its size modulo 2^32: exact for a single member
    // (what CloudWatch Logs sends), a first guess otherwise.
    let hint = compressed
        .len()
        .checked_sub(4)
        .and_then(|start| compressed.get(start..))
        .and_then(|size| <[u8; 4]>::try_from(size).ok())
        .map_or(0, |size| u32::from_le_bytes(size) as usize);
    // Deflate expands at most about 1032:1, so a lying trailer cannot reserve more.
    let first = hint
        .min(compressed.len().saturating_mul(1032))
        .min(limit)
        .max(1);
    out.reserve_exact(first);

    let mut rest = compressed;
    while !rest.is_empty() {
        let mut inflater = Decompress::new_gzip(15);
        loop {
            let consumed = usize::try_from(inflater.total_in()).unwrap_or(usize::MAX);
            let input = rest.get(consumed..).unwrap_or_default();
            let before = out.len();
            let status = inflater
                .decompress_vec(input, out, FlushDecompress::Finish)
                .map_err(|error| RecordError::Gzip(std::io::Error::other(error)))?;
            if out.len() > max_bytes {
                out.clear();
                return Err(RecordError::TooLarge { max_bytes });
            }
            match status {
                Status::StreamEnd => break,
                Status::Ok | Status::BufError if out.len() == out.capacity() => {
                    if out.capacity() >= limit {
                        out.clear();
                        return Err(RecordError::TooLarge { max_bytes });
                    }
                    let grown = out.capacity().saturating_mul(2).min(limit);
                    out.reserve_exact(grown - out.len());
                }
                Status::Ok | Status::BufError => {
                    let consumed_now = usize::try_from(inflater.total_in()).unwrap_or(usize::MAX);
                    if consumed_now == consumed && out.len() == before {
                        return Err(RecordError::Gzip(std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            "gzip stream ends before its trailer",
                        )));
                    }
                }
            }
        }
        let consumed = usize::try_from(inflater.total_in()).unwrap_or(usize::MAX);
        // Whatever follows a member must be another member; anything else is an error.
        rest = rest.get(consumed..).unwrap_or_default();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::new(6));
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn base64_round_trips_and_rejects_garbage() {
        let mut out = Vec::new();
        decode_base64("aGVsbG8=", &mut out).unwrap();
        assert_eq!(out, b"hello");
        decode_base64("", &mut out).unwrap();
        assert!(out.is_empty());
        for bad in ["aGVsbG8", "!!!!", "aGVs bG8=", "aGVsbG8=="] {
            assert!(
                matches!(decode_base64(bad, &mut out), Err(RecordError::Base64)),
                "{bad}"
            );
        }
    }

    #[test]
    fn gunzips_every_member() {
        let mut two_members = gzip(b"first ");
        two_members.extend(gzip(b"second"));
        let mut out = Vec::new();
        gunzip_capped(&two_members, 1024, &mut out).unwrap();
        assert_eq!(out, b"first second");
    }

    #[test]
    fn gunzip_failures_are_errors() {
        let whole = gzip(&[b'a'; 10_000]);
        let mut out = Vec::new();
        let truncated = &whole[..whole.len() - 4];
        assert!(matches!(
            gunzip_capped(truncated, 1 << 20, &mut out),
            Err(RecordError::Gzip(_))
        ));
        let mut corrupt = whole.clone();
        let middle = corrupt.len() / 2;
        corrupt[middle] ^= 0xff;
        assert!(gunzip_capped(&corrupt, 1 << 20, &mut out).is_err());
        let mut trailing_garbage = whole.clone();
        trailing_garbage.extend_from_slice(b"not gzip");
        assert!(gunzip_capped(&trailing_garbage, 1 << 20, &mut out).is_err());
    }

    #[test]
    fn the_cap_is_exact() {
        let data = vec![b'z'; 4096];
        let compressed = gzip(&data);
        let mut out = Vec::new();
        gunzip_capped(&compressed, 4096, &mut out).unwrap();
        assert_eq!(out.len(), 4096);
        assert!(matches!(
            gunzip_capped(&compressed, 4095, &mut out),
            Err(RecordError::TooLarge { max_bytes: 4095 })
        ));
    }

    #[test]
    fn a_bomb_stops_at_the_cap() {
        let bomb = gzip(&vec![0u8; 64 << 20]);
        assert!(
            bomb.len() < 1 << 20,
            "64 MiB of zeros compresses below 1 MiB"
        );
        let mut out = Vec::new();
        assert!(matches!(
            gunzip_capped(&bomb, 8 << 20, &mut out),
            Err(RecordError::TooLarge { .. })
        ));
        assert!(out.capacity() <= 32 << 20, "capacity {}", out.capacity());
    }
}
