//! The ZIP bomb guard of XLSX workbooks: archives are built here with the `zip` crate (no binary
//! fixtures); the real RVTools samples must still open.

use std::io::{Cursor, Write};
use std::path::PathBuf;

use calamine_zip::write::SimpleFileOptions;
use calamine_zip::{CompressionMethod, ZipWriter};
use modernize_ingest::SourceError;
use modernize_ingest::source::{self, Limits, Source};

fn samples_dir() -> PathBuf {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/samples"
    ));
    assert!(
        dir.is_dir(),
        "the samples directory {} is missing: it must sit beside the repository (shared/samples)",
        dir.display()
    );
    dir
}

/// A ZIP archive of deflated entries.
fn archive(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for (name, data) in entries {
        zip.start_file(*name, options).unwrap();
        zip.write_all(data).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// A sheet of `rows` identical rows: very compressible XML, like a bomb's.
fn sheet_xml(rows: usize) -> Vec<u8> {
    let mut xml = String::from(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#,
    );
    for _ in 0..rows {
        xml.push_str(r#"<row><c t="inlineStr"><is><t>0000000000000000</t></is></c></row>"#);
    }
    xml.push_str("</sheetData></worksheet>");
    xml.into_bytes()
}

fn open(bytes: Vec<u8>, limits: &Limits) -> Result<Source, SourceError> {
    source::open(Cursor::new(bytes), "book.xlsx", limits)
}

fn refused(result: Result<Source, SourceError>) -> String {
    match result {
        Err(e @ SourceError::ArchiveTooLarge(_)) => {
            assert_eq!(e.code(), "archive_too_large");
            e.to_string()
        }
        other => panic!("expected archive_too_large, got {other:?}"),
    }
}

#[test]
fn defaults_are_documented_values() {
    let l = Limits::default();
    assert_eq!(l.max_uncompressed_bytes, 2 << 30);
    assert_eq!(l.max_compression_ratio, 200);
    assert_eq!(l.max_archive_entries, 10_000);
}

#[test]
fn absurd_compression_ratio_is_refused_with_default_limits() {
    // 16 MiB of zeros deflate to about 16 KiB (about 1000:1).
    let zeros = vec![b'0'; 16 << 20];
    let bytes = archive(&[("xl/worksheets/sheet1.xml", &zeros)]);
    assert!(bytes.len() < 256 << 10, "{}", bytes.len());
    let m = refused(open(bytes, &Limits::default()));
    assert!(
        m.contains("xl/worksheets/sheet1.xml") && m.contains("200:1"),
        "{m}"
    );
}

#[test]
fn small_entries_are_exempt_from_the_ratio_check() {
    // 512 KiB at about 1000:1 is below the 1 MiB floor: not refused by the guard (the archive
    // is not a workbook, so calamine refuses it afterwards).
    let zeros = vec![b'0'; 512 << 10];
    let bytes = archive(&[("xl/worksheets/sheet1.xml", &zeros)]);
    let e = open(bytes, &Limits::default()).unwrap_err();
    assert_ne!(e.code(), "archive_too_large", "{e}");
}

#[test]
fn total_uncompressed_size_above_the_limit_is_refused() {
    let sheet = sheet_xml(20_000); // about 1.2 MiB
    let bytes = archive(&[
        ("xl/worksheets/sheet1.xml", &sheet),
        ("xl/worksheets/sheet2.xml", &sheet),
    ]);
    let limits = Limits {
        max_uncompressed_bytes: 2 << 20,
        max_compression_ratio: u64::MAX,
        ..Limits::default()
    };
    let m = refused(open(bytes.clone(), &limits));
    assert!(m.contains(&(2u64 << 20).to_string()), "{m}");
    // Under a larger limit the same archive passes the guard.
    let limits = Limits {
        max_uncompressed_bytes: 4 << 20,
        max_compression_ratio: u64::MAX,
        ..Limits::default()
    };
    assert_ne!(
        open(bytes, &limits).unwrap_err().code(),
        "archive_too_large"
    );
}

#[test]
fn too_many_entries_are_refused() {
    let names: Vec<String> = (0..50).map(|i| format!("xl/media/image{i}.png")).collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let bytes = archive(&entries);
    let limits = Limits {
        max_archive_entries: 20,
        ..Limits::default()
    };
    let m = refused(open(bytes, &limits));
    assert!(m.contains("50 entries") && m.contains("20"), "{m}");
}

#[test]
fn a_part_larger_than_it_declares_is_stopped_at_its_declared_size() {
    // The central directory claims 100 bytes for a 60 KiB sheet (uncompressed size, offset 24
    // of the central directory header): the guard accepts the claim, and reading stops there.
    let sheet = sheet_xml(1000);
    let mut bytes = archive(&[
        ("_rels/.rels", ROOT_RELS.as_bytes()),
        ("xl/workbook.xml", WORKBOOK.as_bytes()),
        ("xl/_rels/workbook.xml.rels", RELS.as_bytes()),
        ("xl/worksheets/sheet1.xml", &sheet),
    ]);
    let intact = open(bytes.clone(), &Limits::default()).unwrap();
    assert_eq!(intact.tables()[0].name, "S");
    let cd = bytes
        .windows(4)
        .rposition(|w| w == b"PK\x01\x02")
        .expect("central directory header");
    bytes[cd + 24..cd + 28].copy_from_slice(&100u32.to_le_bytes());
    let e = open(bytes, &Limits::default()).unwrap_err();
    assert_eq!(e.code(), "corrupt_file", "{e}");
    assert!(e.to_string().contains("declared"), "{e}");
}

const ROOT_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;
const WORKBOOK: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
const RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#;

#[test]
fn garbled_central_directory_is_still_corrupt() {
    let path = samples_dir().join("rvtools/migration-planner__example1.xlsx");
    let mut bytes = std::fs::read(path).unwrap();
    let cd = bytes
        .windows(4)
        .position(|w| w == b"PK\x01\x02")
        .expect("central directory header");
    for b in &mut bytes[cd..cd + 200] {
        *b = 0xA5;
    }
    let e = open(bytes, &Limits::default()).unwrap_err();
    assert_eq!(e.code(), "corrupt_file", "{e}");
    assert!(e.to_string().contains("XLSX (ZIP)"), "{e}");
}

#[test]
fn garbled_part_data_is_corrupt() {
    let mut bytes = archive(&[("xl/workbook.xml", &sheet_xml(1000))]);
    // Damage the deflated data of the only entry (after its 30-byte local header and name).
    let start = 30 + "xl/workbook.xml".len() + 10;
    for b in &mut bytes[start..start + 40] {
        *b ^= 0x5A;
    }
    let e = open(bytes, &Limits::default()).unwrap_err();
    assert_eq!(e.code(), "corrupt_file", "{e}");
}

#[test]
fn rvtools_samples_pass_the_guard() {
    let dir = samples_dir().join("rvtools");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "xlsx") {
            continue;
        }
        let src = source::open_path(&path, &Limits::default())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!src.tables().is_empty(), "{}", path.display());
        seen += 1;
    }
    assert!(seen >= 3, "only {seen} RVTools samples found");
}
