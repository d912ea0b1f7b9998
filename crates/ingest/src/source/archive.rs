//! The ZIP bomb guard of XLSX workbooks, run before calamine opens the archive.
//!
//! 1. The entry count declared by the end-of-central-directory record is read by hand (a few
//!    bytes at the end of the file), so that an archive declaring millions of entries is refused
//!    before any ZIP reader allocates a directory for them.
//! 2. The central directory is read with the same `zip` crate calamine uses (same major
//!    version, so both see the same entries) and the declared sizes are checked: the total
//!    uncompressed size, the compression ratio of every entry that unpacks to more than 1 MiB,
//!    the number of entries.
//!
//! Declared sizes are binding: that `zip` version stops every entry read at its declared
//! uncompressed size (an entry that unpacks to more fails with an I/O error, reported as
//! `corrupt_file`), so nothing is unpacked here and a lying entry cannot get past the limits.
//!
//! Limits come from [`Limits`]; refusals are [`SourceError::ArchiveTooLarge`]
//! (`archive_too_large`), unreadable archives [`SourceError::Corrupt`] (`corrupt_file`).

use std::io::{Read, Seek, SeekFrom};

use calamine_zip::ZipArchive;
use calamine_zip::result::ZipError;

use super::{Limits, ReadSeek, io_error};
use crate::record::SourceError;

/// Entries unpacking to at most this many bytes are exempt from the ratio check (small, very
/// repetitive XML parts legitimately compress far better than sheets).
const RATIO_CHECK_FLOOR: u64 = 1 << 20;
/// End-of-central-directory record: fixed part and largest trailing comment.
const EOCD_LEN: u64 = 22;
const EOCD_MAX_COMMENT: u64 = 0xFFFF;
const EOCD_SIG: &[u8; 4] = b"PK\x05\x06";
const ZIP64_LOCATOR_SIG: &[u8; 4] = b"PK\x06\x07";
const ZIP64_EOCD_SIG: &[u8; 4] = b"PK\x06\x06";

/// Checks the archive against `limits`; leaves the reader at the start.
pub(crate) fn check(
    reader: &mut Box<dyn ReadSeek>,
    size: u64,
    limits: &Limits,
) -> Result<(), SourceError> {
    if let Some(declared) = declared_entries(reader, size)?
        && declared > limits.max_archive_entries
    {
        return Err(too_many_entries(declared, limits));
    }
    reader.seek(SeekFrom::Start(0)).map_err(io_error)?;
    let archive = ZipArchive::new(&mut *reader).map_err(corrupt)?;
    let entries = archive.len() as u64;
    if entries > limits.max_archive_entries {
        return Err(too_many_entries(entries, limits));
    }
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive.by_index_data(i).map_err(corrupt)?;
        let (unpacked, packed) = (entry.size(), entry.compressed_size());
        total = total.saturating_add(unpacked);
        if total > limits.max_uncompressed_bytes {
            return Err(SourceError::ArchiveTooLarge(format!(
                "its entries unpack to more than the limit of {} bytes",
                limits.max_uncompressed_bytes
            )));
        }
        if unpacked > RATIO_CHECK_FLOOR && unpacked / packed.max(1) > limits.max_compression_ratio {
            let name = String::from_utf8_lossy(entry.name_raw());
            return Err(SourceError::ArchiveTooLarge(format!(
                "{name:?} unpacks from {packed} to {unpacked} bytes, a compression ratio above \
                 the limit of {}:1",
                limits.max_compression_ratio
            )));
        }
    }
    drop(archive);
    reader.seek(SeekFrom::Start(0)).map_err(io_error)?;
    Ok(())
}

fn too_many_entries(entries: u64, limits: &Limits) -> SourceError {
    SourceError::ArchiveTooLarge(format!(
        "it declares {entries} entries, above the limit of {}",
        limits.max_archive_entries
    ))
}

/// An archive the `zip` crate cannot read (the message calamine's errors get too).
pub(crate) fn corrupt(e: ZipError) -> SourceError {
    SourceError::Corrupt(format!(
        "the workbook is not a readable XLSX (ZIP) archive, it may be truncated: {e}"
    ))
}

/// The entry count declared by the last end-of-central-directory record (ZIP64 when the
/// classic field is saturated); `None` when no record is found or the ZIP64 record is not where
/// the locator says (the ZIP reader then decides, and its entry count is checked after it).
fn declared_entries(reader: &mut Box<dyn ReadSeek>, size: u64) -> Result<Option<u64>, SourceError> {
    let tail_len = size.min(EOCD_LEN + EOCD_MAX_COMMENT);
    let tail_start = size - tail_len;
    reader.seek(SeekFrom::Start(tail_start)).map_err(io_error)?;
    let mut tail = Vec::with_capacity(tail_len as usize);
    (&mut *reader)
        .take(tail_len)
        .read_to_end(&mut tail)
        .map_err(io_error)?;
    let Some(at) = (0..tail.len().saturating_sub(EOCD_LEN as usize - 1))
        .rev()
        .find(|&i| tail[i..].starts_with(EOCD_SIG))
    else {
        return Ok(None);
    };
    let classic = u16::from_le_bytes([tail[at + 10], tail[at + 11]]);
    if classic != u16::MAX {
        return Ok(Some(u64::from(classic)));
    }
    // ZIP64: the locator sits right before the classic record and points at the ZIP64 record.
    let Some(locator) = at.checked_sub(20).map(|l| &tail[l..at]) else {
        return Ok(None);
    };
    if !locator.starts_with(ZIP64_LOCATOR_SIG) {
        return Ok(None);
    }
    let offset = u64::from_le_bytes(locator[8..16].try_into().unwrap_or_default());
    let mut record = [0u8; 40];
    let found = offset.checked_add(40).is_some_and(|end| end <= size)
        && reader.seek(SeekFrom::Start(offset)).is_ok()
        && reader.read_exact(&mut record).is_ok()
        && record.starts_with(ZIP64_EOCD_SIG);
    if !found {
        return Ok(None);
    }
    Ok(Some(u64::from_le_bytes(
        record[32..40].try_into().unwrap_or_default(),
    )))
}
