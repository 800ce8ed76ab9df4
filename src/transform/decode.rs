//! Turning one record's `data` into bytes: base64, then gzip (every member, capped).

use std::ffi::c_void;
use std::mem::MaybeUninit;
use std::ptr::NonNull;

use crate::transform::error::RecordError;

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

/// Decompresses gzip with libdeflate, one member at a time, each in one call into
/// output pre-sized from the gzip trailer.
///
/// libdeflater's safe wrapper is not used: it does not say how much input a member
/// used, so a second member would be dropped without a word. This calls the `_ex`
/// entry point, which does, and loops until the input ends. The decompressor is
/// allocated on first use and kept, so that a warm function does not allocate it again.
#[derive(Default)]
pub struct Gunzip {
    decompressor: Option<NonNull<libdeflate_sys::libdeflate_decompressor>>,
}

// SAFETY: a libdeflate decompressor is plain memory with no tie to the thread that
// made it; `&mut self` on every use keeps it to one thread at a time.
unsafe impl Send for Gunzip {}

impl std::fmt::Debug for Gunzip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gunzip")
            .field("allocated", &self.decompressor.is_some())
            .finish()
    }
}

impl Drop for Gunzip {
    fn drop(&mut self) {
        if let Some(decompressor) = self.decompressor.take() {
            // SAFETY: allocated by libdeflate_alloc_decompressor, freed once, here.
            unsafe { libdeflate_sys::libdeflate_free_decompressor(decompressor.as_ptr()) }
        }
    }
}

/// What one libdeflate call did with a member.
enum Member {
    /// The member ended: input bytes it used, output bytes it produced.
    Done { consumed: usize, produced: usize },
    /// The member needs more output room than it was given.
    NeedsRoom,
    /// Not a valid gzip member (bad header, data, CRC-32 or length).
    Corrupt,
}

impl Gunzip {
    /// Decompresses every gzip member of `compressed` into `out` (cleared first),
    /// checking each member's CRC-32 and length.
    ///
    /// The output is capped at `max_bytes`: a few hundred KiB of gzip can expand to
    /// gigabytes, and a 128 MB function must never try to hold that.
    pub fn gunzip_capped(
        &mut self,
        compressed: &[u8],
        max_bytes: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), RecordError> {
        out.clear();
        if compressed.is_empty() {
            return Err(RecordError::Gzip(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "no gzip member",
            )));
        }
        let limit = max_bytes.saturating_add(1);
        // The last member's trailer gives its size modulo 2^32: exact for a single
        // member (what CloudWatch Logs sends), a first guess otherwise.
        let trailer_size = compressed
            .len()
            .checked_sub(4)
            .and_then(|start| compressed.get(start..))
            .and_then(|size| <[u8; 4]>::try_from(size).ok())
            .map_or(0, |size| u32::from_le_bytes(size) as usize);

        let mut rest = compressed;
        while !rest.is_empty() {
            let start = out.len();
            // Deflate expands at most about 1032:1, so a lying trailer cannot ask for more.
            let mut room = trailer_size
                .min(rest.len().saturating_mul(1032))
                .min(limit - start)
                .max(1);
            loop {
                out.reserve_exact(room);
                match self.member(rest, &mut out.spare_capacity_mut()[..room])? {
                    Member::Done { consumed, produced } => {
                        // SAFETY: libdeflate initialised `produced` bytes of the spare
                        // capacity, and `produced <= room <= capacity - start`.
                        unsafe { out.set_len(start + produced) };
                        if out.len() > max_bytes {
                            out.clear();
                            return Err(RecordError::TooLarge { max_bytes });
                        }
                        // Whatever follows a member must be another member.
                        rest = rest.get(consumed..).unwrap_or_default();
                        break;
                    }
                    Member::NeedsRoom if start + room >= limit => {
                        out.clear();
                        return Err(RecordError::TooLarge { max_bytes });
                    }
                    Member::NeedsRoom => room = room.saturating_mul(2).min(limit - start),
                    Member::Corrupt => {
                        out.clear();
                        return Err(RecordError::Gzip(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            "corrupt or truncated gzip member",
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// Inflates the gzip member at the start of `input` into `output`.
    fn member(
        &mut self,
        input: &[u8],
        output: &mut [MaybeUninit<u8>],
    ) -> Result<Member, RecordError> {
        let decompressor = match self.decompressor {
            Some(decompressor) => decompressor,
            None => {
                // SAFETY: no preconditions; returns null when out of memory.
                let allocated = unsafe { libdeflate_sys::libdeflate_alloc_decompressor() };
                let decompressor = NonNull::new(allocated).ok_or_else(|| {
                    RecordError::Gzip(std::io::Error::new(
                        std::io::ErrorKind::OutOfMemory,
                        "cannot allocate a gzip decompressor",
                    ))
                })?;
                *self.decompressor.insert(decompressor)
            }
        };
        let mut consumed = 0;
        let mut produced = 0;
        // SAFETY: the decompressor is live and used by this thread alone; libdeflate
        // reads at most `input.len()` bytes of `input`, writes at most `output.len()`
        // bytes of `output` and never reads them, and sets `consumed` and `produced`.
        let result = unsafe {
            libdeflate_sys::libdeflate_gzip_decompress_ex(
                decompressor.as_ptr(),
                input.as_ptr().cast::<c_void>(),
                input.len(),
                output.as_mut_ptr().cast::<c_void>(),
                output.len(),
                &mut consumed,
                &mut produced,
            )
        };
        Ok(match result {
            libdeflate_sys::libdeflate_result_LIBDEFLATE_SUCCESS
                if consumed > 0 && consumed <= input.len() && produced <= output.len() =>
            {
                Member::Done { consumed, produced }
            }
            libdeflate_sys::libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE => Member::NeedsRoom,
            _ => Member::Corrupt,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{write::GzEncoder, Compression};
    use proptest::prelude::*;
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
        Gunzip::default()
            .gunzip_capped(&two_members, 1024, &mut out)
            .unwrap();
        assert_eq!(out, b"first second");
    }

    #[test]
    fn gunzip_failures_are_errors() {
        let whole = gzip(&[b'a'; 10_000]);
        let mut out = Vec::new();
        let truncated = &whole[..whole.len() - 4];
        assert!(matches!(
            Gunzip::default().gunzip_capped(truncated, 1 << 20, &mut out),
            Err(RecordError::Gzip(_))
        ));
        let mut corrupt = whole.clone();
        let middle = corrupt.len() / 2;
        corrupt[middle] ^= 0xff;
        let error = Gunzip::default()
            .gunzip_capped(&corrupt, 1 << 20, &mut out)
            .unwrap_err();
        assert_corrupt_member(&error);
        assert!(out.is_empty(), "nothing of a corrupt stream is kept");
        let mut trailing_garbage = whole.clone();
        trailing_garbage.extend_from_slice(b"not gzip");
        let error = Gunzip::default()
            .gunzip_capped(&trailing_garbage, 1 << 20, &mut out)
            .unwrap_err();
        assert_corrupt_member(&error);
        assert!(out.is_empty(), "nor the good member before the garbage");
    }

    /// A `Gzip` error whose cause says a member was corrupt (not that none was there).
    fn assert_corrupt_member(error: &RecordError) {
        let RecordError::Gzip(cause) = error else {
            panic!("expected a gzip error, got {error:?}");
        };
        assert_eq!(cause.kind(), std::io::ErrorKind::InvalidData, "{cause}");
        assert!(cause.to_string().contains("corrupt"), "{cause}");
    }

    #[test]
    fn the_cap_is_exact() {
        let data = vec![b'z'; 4096];
        let compressed = gzip(&data);
        let mut out = Vec::new();
        Gunzip::default()
            .gunzip_capped(&compressed, 4096, &mut out)
            .unwrap();
        assert_eq!(out.len(), 4096);
        assert!(matches!(
            Gunzip::default().gunzip_capped(&compressed, 4095, &mut out),
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
            Gunzip::default().gunzip_capped(&bomb, 8 << 20, &mut out),
            Err(RecordError::TooLarge { .. })
        ));
        assert!(out.capacity() <= 32 << 20, "capacity {}", out.capacity());
    }

    /// Member contents, where to cut the stream short, which byte to flip and how.
    type Members = (Vec<Vec<u8>>, Option<usize>, Option<(usize, u8)>);

    /// Multi-member gzip, optionally cut short or with one byte flipped.
    fn members() -> impl Strategy<Value = Members> {
        (
            proptest::collection::vec(
                prop_oneof![
                    proptest::collection::vec(any::<u8>(), 0..2000),
                    // Compressible text, so that back-references are exercised too.
                    "[a-c \\n]{0,5000}".prop_map(String::into_bytes),
                ],
                1..4,
            ),
            proptest::option::of(any::<usize>()),
            proptest::option::of((any::<usize>(), 1..=255u8)),
        )
    }

    proptest! {
        /// The libdeflate wrapper agrees with flate2's streaming multi-member reader.
        #[test]
        fn agrees_with_the_streaming_reader((parts, cut, flip) in members(), cap in 0usize..20_000) {
            let mut compressed: Vec<u8> = parts.iter().flat_map(|part| gzip(part)).collect();
            let clean = cut.is_none() && flip.is_none();
            if let Some(cut) = cut {
                compressed.truncate(cut % (compressed.len() + 1));
            }
            if let Some((at, mask)) = flip {
                if !compressed.is_empty() {
                    let at = at % compressed.len();
                    compressed[at] ^= mask;
                }
            }
            let mut expected = Vec::new();
            let reference = std::io::Read::read_to_end(
                &mut flate2::read::MultiGzDecoder::new(compressed.as_slice()),
                &mut expected,
            );
            let mut out = Vec::new();
            let ours = Gunzip::default().gunzip_capped(&compressed, cap, &mut out);
            if clean {
                let whole: Vec<u8> = parts.concat();
                if whole.len() <= cap {
                    prop_assert!(ours.is_ok(), "{ours:?}");
                    prop_assert_eq!(&out, &whole);
                } else {
                    let too_large = matches!(ours, Err(RecordError::TooLarge { .. }));
                    prop_assert!(too_large, "{:?}", ours);
                }
            }
            if ours.is_ok() {
                // Whatever we accept, the reference accepts with the same bytes.
                prop_assert!(reference.is_ok(), "reference: {reference:?}");
                prop_assert_eq!(&out, &expected);
            } else {
                prop_assert!(out.is_empty());
            }
            if reference.is_ok() && expected.len() <= cap {
                // And whatever the reference accepts within the cap, we accept.
                prop_assert!(ours.is_ok(), "{ours:?}");
            }
        }
    }
}
