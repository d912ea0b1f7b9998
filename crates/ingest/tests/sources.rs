//! Reading sources: the real samples (beside the repository in `shared/samples`) and fixtures
//! generated here (encodings, delimiters, ragged and empty rows, JSON, broken files).

use std::io::Cursor;
use std::path::PathBuf;

use calamine::{Data, DataType, Reader, Xlsx, open_workbook};
use modernize_ingest::SourceError;
use modernize_ingest::layout::rvtools::{DISK_TOTAL, RvtoolsJoin};
use modernize_ingest::source::{
    self, Format, HeaderProblem, Limits, Row, RowProblem, Source, TextEncoding,
};

fn sample(rel: &str) -> PathBuf {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/samples"
    ));
    assert!(
        dir.is_dir(),
        "the samples directory {} is missing: it must sit beside the repository (shared/samples)",
        dir.display()
    );
    let p = dir.join(rel);
    assert!(p.is_file(), "sample {} is missing", p.display());
    p
}

fn open_sample(rel: &str) -> Source {
    source::open_path(&sample(rel), &Limits::default()).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn open_bytes(bytes: Vec<u8>) -> Result<Source, SourceError> {
    source::open(Cursor::new(bytes), "fixture", &Limits::default())
}

/// All rows of the first table, panicking on a source error.
fn all_rows(src: &mut Source) -> (Vec<Row>, source::ReadStats) {
    let name = src.tables()[0].name.clone();
    let mut rows = src.rows(&name).unwrap();
    let out: Vec<Row> = rows.by_ref().map(|r| r.unwrap()).collect();
    (out, rows.stats().clone())
}

fn value<'a>(src: &Source, row: &'a Row, column: &str) -> Option<&'a str> {
    let t = src.table(&row.record.table).unwrap();
    let i = t.headers.iter().position(|h| h == column).unwrap();
    row.record.values[i].as_deref()
}

// ---------------------------------------------------------------- Konveyor CSVs

#[test]
fn every_konveyor_csv_reads() {
    let expected: &[(&str, usize)] = &[
        ("tackle2-hub__template_application_import.csv", 5),
        ("tackle2-ui__template_application_import.csv", 3),
        ("tackle2-ui__sample-applications.csv", 5),
        ("tackle2-ui__invalid_column_schema.csv", 2),
        ("tackle2-ui__invalid_schema_21.csv", 2),
        ("tackle2-ui__invalid_record_type_21.csv", 2),
        ("tackle2-ui__mandatory_and_empty_rows.csv", 2),
        ("tackle2-ui__missing_application_name.csv", 1),
        ("tackle2-ui__non_existing_tags_business_service_rows.csv", 2),
        ("tackle2-ui__desc_comments_char_limit_rows.csv", 2),
    ];
    for (file, rows) in expected {
        let mut src = open_sample(&format!("konveyor/{file}"));
        assert_eq!(src.format(), Format::Csv);
        assert_eq!(src.delimiter(), Some(b','), "{file}");
        assert_eq!(src.encoding(), Some(TextEncoding::Utf8), "{file}");
        let (got, stats) = all_rows(&mut src);
        assert_eq!(got.len(), *rows, "{file}");
        assert_eq!(stats.rows, *rows as u64, "{file}");
    }
}

#[test]
fn quoted_field_followed_by_comma_space_quote_reads_as_two_fields() {
    let mut src = open_sample("konveyor/tackle2-ui__template_application_import.csv");
    let (rows, stats) = all_rows(&mut src);
    assert!(stats.quote_spacing_repairs >= 3);
    let first = &rows[0];
    assert!(first.problems.is_empty(), "{:?}", first.problems);
    assert_eq!(
        value(&src, first, "Owner"),
        Some("Alex Johnson <alex.johnson@example.com>")
    );
    assert_eq!(
        value(&src, first, "Contributors"),
        Some("Sam Taylor <sam.taylor@example.com>, Jamie Lee <jamie.lee@example.com>")
    );
    assert_eq!(
        value(&src, first, "Tag Category 1"),
        Some("Operating System")
    );
}

#[test]
fn short_dependency_rows_are_reported_ragged_not_dropped() {
    let mut src = open_sample("konveyor/tackle2-ui__sample-applications.csv");
    let width = src.tables()[0].headers.len();
    let (rows, stats) = all_rows(&mut src);
    assert_eq!(stats.rows_with_problems, 2);
    let ragged: Vec<&Row> = rows.iter().filter(|r| !r.problems.is_empty()).collect();
    assert_eq!(ragged.len(), 2);
    for r in ragged {
        assert_eq!(
            r.problems,
            vec![RowProblem::RaggedRow {
                expected: width,
                found: 7
            }]
        );
        assert_eq!(r.problems[0].code(), "ragged_row");
        assert_eq!(r.record.values.len(), width);
        assert_eq!(value(&src, r, "Dependency Direction"), Some("southbound"));
    }
}

#[test]
fn fully_empty_row_is_skipped_and_counted() {
    let mut src = open_sample("konveyor/tackle2-ui__mandatory_and_empty_rows.csv");
    let (rows, stats) = all_rows(&mut src);
    assert_eq!(stats.empty_rows_skipped, 1);
    let numbers: Vec<u64> = rows.iter().map(|r| r.record.row).collect();
    assert_eq!(numbers, vec![2, 4]);
}

// ---------------------------------------------------------------- header-only templates

#[test]
fn header_templates_have_headers_and_no_records() {
    let dir = sample("headers/servicenow_cmdb_rel_ci.header.csv");
    for entry in std::fs::read_dir(dir.parent().unwrap()).unwrap() {
        let path = entry.unwrap().path();
        let mut src = source::open_path(&path, &Limits::default()).unwrap();
        let expected = std::fs::read_to_string(&path).unwrap();
        let expected = expected.lines().next().unwrap().split(',').count();
        assert_eq!(
            src.tables()[0].headers.len(),
            expected,
            "{}",
            path.display()
        );
        let (rows, _) = all_rows(&mut src);
        assert!(rows.is_empty());
    }
}

// ---------------------------------------------------------------- RVTools workbooks

/// Counts the non-empty VM cells of vInfo with calamine directly.
fn count_vms(rel: &str) -> usize {
    let mut wb: Xlsx<_> = open_workbook(sample(rel)).unwrap();
    let range = wb.worksheet_range("vInfo").unwrap();
    let mut rows = range.rows();
    let header = rows.next().unwrap();
    let vm = header
        .iter()
        .position(|c| c.get_string() == Some("VM"))
        .expect("VM column");
    rows.filter(|r| !matches!(r.get(vm), None | Some(Data::Empty)))
        .filter(|r| !r[vm].to_string().trim().is_empty())
        .count()
}

/// Sum of vDisk capacity per VM with calamine directly.
fn disk_totals(rel: &str) -> std::collections::HashMap<String, f64> {
    let mut wb: Xlsx<_> = open_workbook(sample(rel)).unwrap();
    let range = wb.worksheet_range("vDisk").unwrap();
    let mut rows = range.rows();
    let header: Vec<String> = rows.next().unwrap().iter().map(|c| c.to_string()).collect();
    let vm = header.iter().position(|h| h == "VM").unwrap();
    let cap = header
        .iter()
        .position(|h| h == "Capacity MB" || h == "Capacity MiB")
        .unwrap();
    let mut out = std::collections::HashMap::new();
    for r in rows {
        let name = r[vm].to_string();
        if name.is_empty() {
            continue;
        }
        *out.entry(name).or_insert(0.0) += r[cap].as_f64().unwrap_or(0.0);
    }
    out
}

fn check_rvtools(rel: &str, expected_vms: usize) -> (Source, RvtoolsJoin) {
    assert_eq!(count_vms(rel), expected_vms, "independent count of {rel}");
    let mut src = open_sample(rel);
    assert_eq!(src.format(), Format::Xlsx);
    let mut rows = src.rows("vInfo").unwrap();
    let mut n = 0;
    for r in rows.by_ref() {
        r.unwrap();
        n += 1;
    }
    assert_eq!(n, expected_vms, "{rel}");
    assert_eq!(rows.stats().empty_rows_skipped, 0);
    drop(rows);
    let join = RvtoolsJoin::prepare(&mut src).unwrap();
    assert_eq!(join.vm_count, expected_vms as u64);
    (src, join)
}

#[test]
fn rvtools_example1_has_9_vms_and_ignores_a_million_empty_rows() {
    let rel = "rvtools/migration-planner__example1.xlsx";
    let (mut src, join) = check_rvtools(rel, 9);
    assert!(join.appended.iter().any(|a| a == "owner"));
    assert!(join.appended.iter().any(|a| a == "mmtest-tags"));
    let totals = disk_totals(rel);
    let name = join.headers.iter().position(|h| h == "VM").unwrap();
    let disk = join.headers.iter().position(|h| h == DISK_TOTAL).unwrap();
    let mut checked = 0;
    for row in join.rows(&mut src).unwrap() {
        let row = row.unwrap();
        assert_eq!(row.record.values.len(), join.headers.len());
        let vm = row.record.values[name].clone().unwrap();
        if let Some(total) = totals.get(&vm) {
            let got: f64 = row.record.values[disk].as_deref().unwrap().parse().unwrap();
            assert_eq!(got, *total, "{vm}");
            checked += 1;
        }
    }
    assert!(checked > 0);
}

#[test]
fn rvtools_bill_sample_joins_disks_and_finds_the_misnamed_vm_column() {
    let rel = "rvtools/partnersizingworkshop__BillSampleNextRvtoolsFinal.xlsx";
    let (mut src, join) = check_rvtools(rel, 131);
    assert!(
        join.notes
            .iter()
            .any(|n| n.contains("vPartition") && n.contains("NEXT Data Center")),
        "{:?}",
        join.notes
    );
    let totals = disk_totals(rel);
    let name = join.headers.iter().position(|h| h == "VM").unwrap();
    let disk = join.headers.iter().position(|h| h == DISK_TOTAL).unwrap();
    let parts = join
        .headers
        .iter()
        .position(|h| h == "vPartition.Partitions")
        .unwrap();
    let mut with_partitions = 0;
    let mut checked = 0;
    for row in join.rows(&mut src).unwrap() {
        let row = row.unwrap();
        let vm = row.record.values[name].clone().unwrap();
        if let Some(total) = totals.get(&vm) {
            let got: f64 = row.record.values[disk].as_deref().unwrap().parse().unwrap();
            assert_eq!(got, *total, "{vm}");
            checked += 1;
        } else {
            assert_eq!(row.record.values[disk], None, "{vm} has no vDisk rows");
        }
        if row.record.values[parts].is_some() {
            with_partitions += 1;
        }
    }
    // vDisk also lists VMs that vInfo does not (templates, other folders).
    assert!(checked > 50 && checked <= totals.len(), "{checked}");
    assert!(with_partitions > 100, "{with_partitions}");
}

#[test]
fn rvtools_trimmed_sizing_workshop_reads_every_vm() {
    let rel = "rvtools/partnersizingworkshop__SizingWorkshop-RVTools.xlsx";
    let expected = count_vms(rel);
    assert!(expected > 500, "{expected}");
    let (src, join) = check_rvtools(rel, expected);
    assert_eq!(src.table("vInfo").unwrap().headers.len(), 14);
    assert!(
        join.appended
            .iter()
            .any(|a| a == "vPartition.Total capacity MiB")
    );
}

// ---------------------------------------------------------------- encodings and delimiters

fn text_csv() -> &'static str {
    "name;ip;os\ncafé-01;10.0.0.1;Windows Server 2019\nnaïve;10.0.0.2;RHEL 8\n"
}

fn check_text(bytes: Vec<u8>, encoding: TextEncoding, delimiter: u8) {
    let mut src = open_bytes(bytes).unwrap();
    assert_eq!(src.format(), Format::Csv);
    assert_eq!(src.encoding(), Some(encoding));
    assert_eq!(src.delimiter(), Some(delimiter));
    assert_eq!(src.tables()[0].headers, vec!["name", "ip", "os"]);
    let (rows, _) = all_rows(&mut src);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].record.values[0].as_deref(), Some("café-01"));
    assert_eq!(rows[1].record.values[0].as_deref(), Some("naïve"));
    assert_eq!(rows[1].record.row, 3);
}

#[test]
fn encodings_are_detected() {
    let text = text_csv();
    check_text(text.as_bytes().to_vec(), TextEncoding::Utf8, b';');
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend_from_slice(text.as_bytes());
    check_text(bom, TextEncoding::Utf8Bom, b';');
    let mut le = vec![0xFF, 0xFE];
    le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    check_text(le, TextEncoding::Utf16Le, b';');
    let mut be = vec![0xFE, 0xFF];
    be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
    check_text(be, TextEncoding::Utf16Be, b';');
    let latin1: Vec<u8> = text.chars().map(|c| c as u32 as u8).collect();
    check_text(latin1, TextEncoding::Windows1252, b';');
}

#[test]
fn delimiters_are_detected() {
    for d in [b',', b';', b'\t', b'|'] {
        let text = text_csv().replace(';', &char::from(d).to_string());
        check_text(text.into_bytes(), TextEncoding::Utf8, d);
    }
}

#[test]
fn quoted_newlines_ragged_rows_blank_lines_and_headers() {
    let csv = "Name,,name,IP\r\n\"web\r\n01\",x,y,10.0.0.1\r\n\r\nshort,1\r\nlong,1,2,3,4,5\r\n,,,\r\nlast,a,b,c\r\n";
    let mut src = open_bytes(csv.as_bytes().to_vec()).unwrap();
    let table = src.tables()[0].clone();
    assert_eq!(table.headers, vec!["Name", "column_2", "name_2", "IP"]);
    assert_eq!(
        table.header_problems,
        vec![
            HeaderProblem::Blank {
                column: 2,
                renamed_to: "column_2".into()
            },
            HeaderProblem::Duplicate {
                column: 3,
                original: "name".into(),
                renamed_to: "name_2".into()
            },
        ]
    );
    let (rows, stats) = all_rows(&mut src);
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0].record.values[0].as_deref(), Some("web\r\n01"));
    assert_eq!(rows[0].record.row, 2);
    assert_eq!(
        rows[1].problems,
        vec![RowProblem::RaggedRow {
            expected: 4,
            found: 2
        }]
    );
    assert_eq!(
        rows[1].record.values,
        vec![Some("short".into()), Some("1".into()), None, None]
    );
    assert_eq!(
        rows[2].problems,
        vec![RowProblem::RaggedRow {
            expected: 4,
            found: 6
        }]
    );
    assert_eq!(
        rows[2].extra,
        vec![
            ("column_5".to_string(), "4".to_string()),
            ("column_6".to_string(), "5".to_string())
        ]
    );
    assert_eq!(rows[3].record.values[0].as_deref(), Some("last"));
    // A blank line and a line of delimiters only.
    assert_eq!(stats.empty_rows_skipped, 2);
    assert_eq!(stats.rows_with_problems, 2);
    // Row numbers are the line where the record starts.
    let numbers: Vec<u64> = rows.iter().map(|r| r.record.row).collect();
    assert_eq!(numbers, vec![2, 5, 6, 8]);
}

#[test]
fn rows_can_be_read_twice() {
    let mut src = open_bytes(b"a,b\n1,2\n3,4\n".to_vec()).unwrap();
    assert_eq!(all_rows(&mut src).0.len(), 2);
    assert_eq!(all_rows(&mut src).0.len(), 2);
}

// ---------------------------------------------------------------- JSON

#[test]
fn json_array_union_of_keys_nested_values_as_text() {
    let json = r#"[
        {"name": "web01", "cpu": 4, "tags": {"env": "prod"}},
        {"name": "db01", "ip": "10.0.0.5", "disks": [100, 200], "active": true, "note": null}
    ]"#;
    let mut src = open_bytes(json.as_bytes().to_vec()).unwrap();
    assert_eq!(src.format(), Format::Json);
    assert_eq!(
        src.tables()[0].headers,
        vec!["name", "cpu", "tags", "ip", "disks", "active", "note"]
    );
    let (rows, _) = all_rows(&mut src);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].record.values[1].as_deref(), Some("4"));
    assert_eq!(
        rows[0].record.values[2].as_deref(),
        Some(r#"{"env":"prod"}"#)
    );
    assert_eq!(rows[1].record.values[4].as_deref(), Some("[100,200]"));
    assert_eq!(rows[1].record.values[5].as_deref(), Some("true"));
    assert_eq!(rows[1].record.values[6], None);
    assert_eq!(rows[1].record.row, 2);
}

#[test]
fn json_keys_after_the_sample_are_reported_with_their_values() {
    let json = r#"[{"a":1},{"a":2,"late":"x"}]"#;
    let limits = Limits {
        json_header_sample: 1,
        ..Limits::default()
    };
    let mut src = source::open(Cursor::new(json.as_bytes().to_vec()), "j", &limits).unwrap();
    assert_eq!(src.tables()[0].headers, vec!["a"]);
    let (rows, _) = all_rows(&mut src);
    assert_eq!(
        rows[1].problems,
        vec![RowProblem::UnexpectedFields {
            names: vec!["late".into()]
        }]
    );
    assert_eq!(rows[1].extra, vec![("late".to_string(), "x".to_string())]);
}

#[test]
fn ndjson_bad_line_is_a_row_problem() {
    let nd = "{\"name\":\"a\",\"ip\":\"1.1.1.1\"}\n{\"name\": broken\n\n{\"name\":\"c\"}\n";
    let mut src = open_bytes(nd.as_bytes().to_vec()).unwrap();
    assert_eq!(src.format(), Format::Ndjson);
    assert_eq!(src.tables()[0].headers, vec!["name", "ip"]);
    let (rows, stats) = all_rows(&mut src);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1].record.row, 2);
    assert_eq!(rows[1].problems[0].code(), "malformed_row");
    assert_eq!(rows[1].record.values, vec![None, None]);
    assert_eq!(rows[2].record.row, 4);
    assert_eq!(rows[2].record.values[0].as_deref(), Some("c"));
    assert_eq!(stats.empty_rows_skipped, 1);
    assert_eq!(stats.rows_with_problems, 1);
}

#[test]
fn truncated_json_array_is_corrupt_after_the_complete_rows() {
    let json = r#"[{"name":"a"},{"name":"b"},{"name":"c","cpu":"#;
    let mut src = open_bytes(json.as_bytes().to_vec()).unwrap();
    let name = src.tables()[0].name.clone();
    let results: Vec<_> = src.rows(&name).unwrap().collect();
    assert_eq!(results.len(), 3);
    assert!(results[0].is_ok() && results[1].is_ok());
    match &results[2] {
        Err(SourceError::Corrupt(m)) => assert!(m.contains("row 3"), "{m}"),
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------- broken and odd files

#[test]
fn empty_file_is_empty() {
    assert_eq!(open_bytes(Vec::new()).unwrap_err(), SourceError::Empty);
    assert_eq!(
        open_bytes(b"\n\n  \n".to_vec()).unwrap_err(),
        SourceError::Empty
    );
}

#[test]
fn oversized_file_is_too_large() {
    let limits = Limits {
        max_bytes: 10,
        ..Limits::default()
    };
    let e = source::open(Cursor::new(b"a,b\n1,2\n3,4\n".to_vec()), "big", &limits).unwrap_err();
    assert_eq!(e, SourceError::TooLarge { limit: 10 });
    assert_eq!(e.code(), "file_too_large");
}

#[test]
fn truncated_xlsx_is_corrupt() {
    let bytes = std::fs::read(sample("rvtools/migration-planner__example1.xlsx")).unwrap();
    for keep in [bytes.len() / 2, bytes.len() - 100, 30] {
        let e = open_bytes(bytes[..keep].to_vec()).unwrap_err();
        assert!(
            matches!(
                e,
                SourceError::Corrupt(_) | SourceError::UnsupportedFormat(_)
            ),
            "{keep}: {e:?}"
        );
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn garbage_bytes_are_refused() {
    let garbage: Vec<u8> = (0..10_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8)
        .collect();
    let e = open_bytes(garbage).unwrap_err();
    assert_eq!(e.code(), "unsupported_format", "{e}");
    let e = open_bytes(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1 old workbook".to_vec()).unwrap_err();
    assert!(e.to_string().contains(".xls"), "{e}");
}

#[test]
fn large_csv_streams_in_bounded_chunks() {
    // 200k rows read through the stream; checks the row count, not time.
    let mut csv = String::from("name,cpu\n");
    for i in 0..200_000 {
        csv.push_str(&format!("vm{i},{}\n", i % 64));
    }
    let mut src = open_bytes(csv.into_bytes()).unwrap();
    let name = src.tables()[0].name.clone();
    let mut rows = src.rows(&name).unwrap();
    let mut last = 0;
    for r in rows.by_ref() {
        last = r.unwrap().record.row;
    }
    assert_eq!(rows.stats().rows, 200_000);
    assert_eq!(last, 200_001);
}
