//! A job's items as the card program gives them, and their checks: every line is read
//! and checked before anything is queued, and a bad one is named by its line and field.
//!
//! Items come as JSON lines (inline items are stored so too) or as CSV with a header row:
//! a card and the cardholder it is linked to — one that exists (`cardholder_id`), or one
//! to create from contact details (`budget_id`, `first_name`, `last_name` and the contact
//! fields of `cardholders/v2/create`). The file is split into chunks of
//! [`CHUNK_ITEMS`] items by byte range, so a worker reads back only its chunk.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::domain::field as f;
use crate::domain::{BudgetId, CardId, CardholderId, FieldError};
use crate::upstream::card_issuance::wire::CreateCardholderRequest;

/// The most items one job takes.
pub const MAX_ITEMS: usize = 100_000;
/// The largest file one job takes.
pub const MAX_BYTES: usize = 32 * 1024 * 1024;
/// Items per queue message: a worker's unit of work.
pub const CHUNK_ITEMS: usize = 100;

/// How a job's items are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceFormat {
    /// One JSON object per line (inline items are stored so).
    JsonLines,
    /// A header row, then one item per row.
    Csv,
}

impl SourceFormat {
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        match value {
            "jsonl" | "json_lines" => Ok(SourceFormat::JsonLines),
            "csv" => Ok(SourceFormat::Csv),
            _ => Err(FieldError::new(field, "must be csv or jsonl")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SourceFormat::JsonLines => "jsonl",
            SourceFormat::Csv => "csv",
        }
    }
}

/// Who the card is linked to.
#[derive(Debug, Clone, PartialEq)]
pub enum Cardholder {
    Existing(CardholderId),
    /// Created first, in one of the program's budgets.
    New(Box<CreateCardholderRequest>),
}

/// One item, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemSpec {
    /// Its line in the file (1-based; a CSV's header is line 1).
    pub line: u32,
    pub card_id: CardId,
    pub cardholder: Cardholder,
}

/// One item as written (JSON lines, and inline).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemLine {
    #[serde(default)]
    pub card_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cardholder_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cardholder: Option<CreateCardholderRequest>,
}

/// A chunk of a job's file: the bytes `start..end`, whose first item is on `first_line`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkRange {
    pub first_line: u32,
    pub start: u64,
    pub end: u64,
    pub items: u32,
}

/// A file that checked out: how many items, its chunks, and (CSV) its columns.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedSource {
    pub items: usize,
    pub chunks: Vec<ChunkRange>,
    pub columns: Option<Vec<String>>,
}

/// What a program may use: its budgets, and today (for dates of birth).
pub struct Checks<'a> {
    pub owns_budget: &'a dyn Fn(&str) -> bool,
    pub today: NaiveDate,
}

/// Where an item's field is named: `items[i].` inline, `lines[n].` in a file.
#[derive(Debug, Clone, Copy)]
pub enum Naming {
    Inline,
    File,
}

impl Naming {
    fn field(self, line: u32, index: usize, field: &str) -> String {
        match self {
            Naming::Inline => format!("items[{index}].{field}"),
            Naming::File => format!("lines[{line}].{field}"),
        }
    }
}

fn at(naming: Naming, line: u32, index: usize) -> impl Fn(FieldError) -> FieldError {
    move |error| FieldError::new(naming.field(line, index, &error.field), error.message)
}

impl ItemLine {
    /// The item checked: its ids, and a new cardholder's budget and contact.
    fn check(self, line: u32, checks: &Checks<'_>) -> Result<ItemSpec, FieldError> {
        let card_id = CardId::parse("card_id", &self.card_id)?;
        let cardholder = match (self.cardholder_id, self.cardholder) {
            (Some(id), None) => Cardholder::Existing(CardholderId::parse("cardholder_id", &id)?),
            (None, Some(new)) => {
                let new = new.trimmed();
                let prefixed =
                    |e: FieldError| FieldError::new(format!("cardholder.{}", e.field), e.message);
                let budget = BudgetId::parse("budget_id", &new.budget_id).map_err(prefixed)?;
                if !(checks.owns_budget)(budget.as_str()) {
                    return Err(FieldError::new(
                        "cardholder.budget_id",
                        "is not a budget of this card program",
                    ));
                }
                f::text("first_name", &new.first_name, 64).map_err(prefixed)?;
                f::text("last_name", &new.last_name, 64).map_err(prefixed)?;
                new.contact().check(checks.today).map_err(prefixed)?;
                Cardholder::New(Box::new(new))
            }
            (Some(_), Some(_)) => {
                return Err(FieldError::new(
                    "cardholder",
                    "give cardholder_id or cardholder, not both",
                ));
            }
            (None, None) => return Err(FieldError::new("cardholder_id", "is required")),
        };
        Ok(ItemSpec {
            line,
            card_id,
            cardholder,
        })
    }
}

/// The CSV columns of a new cardholder, as `cardholders/v2/create` names them.
const CONTACT_COLUMNS: [&str; 14] = [
    "budget_id",
    "first_name",
    "last_name",
    "call_prefix",
    "mobile",
    "email",
    "date_of_birth",
    "state",
    "city",
    "address_line",
    "post_code",
    "country_code",
    "security_index",
    "security_answer",
];

/// A CSV row as an item line, by its header's columns.
fn csv_item(columns: &[String], row: &csv::StringRecord) -> ItemLine {
    let get = |name: &str| {
        columns
            .iter()
            .position(|c| c == name)
            .and_then(|i| row.get(i))
            .map(str::to_owned)
    };
    let cardholder = get("budget_id").map(|budget_id| {
        let field = |name| get(name).unwrap_or_default();
        CreateCardholderRequest {
            budget_id,
            first_name: field("first_name"),
            last_name: field("last_name"),
            call_prefix: field("call_prefix"),
            mobile: field("mobile"),
            email: field("email"),
            date_of_birth: field("date_of_birth"),
            state: field("state"),
            city: field("city"),
            address_line: field("address_line"),
            post_code: field("post_code"),
            country_code: field("country_code"),
            security_index: field("security_index"),
            security_answer: field("security_answer"),
        }
    });
    ItemLine {
        card_id: get("card_id").unwrap_or_default(),
        cardholder_id: get("cardholder_id").filter(|id| !id.trim().is_empty()),
        cardholder,
    }
}

/// A CSV header's columns, checked: `card_id`, and `cardholder_id` or the contact
/// columns.
fn csv_columns(header: &csv::StringRecord) -> Result<Vec<String>, FieldError> {
    let columns: Vec<String> = header.iter().map(|c| c.trim().to_owned()).collect();
    let known = |c: &str| c == "card_id" || c == "cardholder_id" || CONTACT_COLUMNS.contains(&c);
    if let Some(unknown) = columns.iter().find(|c| !known(c)) {
        return Err(FieldError::new(
            "lines[1]",
            format!("the header names an unknown column {unknown:?}"),
        ));
    }
    let has = |c: &str| columns.iter().any(|column| column == c);
    let contact = CONTACT_COLUMNS.iter().all(|c| has(c));
    if !has("card_id") || !(has("cardholder_id") || contact) {
        return Err(FieldError::new(
            "lines[1]",
            "the header must name card_id, and cardholder_id or every contact column of cardholders/v2/create",
        ));
    }
    Ok(columns)
}

/// Reads every item of a file, checking each: the first bad one is named by its line
/// and field (`lines[12].card_id`), as is a card given twice.
pub fn check_file(
    format: SourceFormat,
    bytes: &[u8],
    checks: &Checks<'_>,
) -> Result<CheckedSource, FieldError> {
    if bytes.len() > MAX_BYTES {
        return Err(FieldError::new(
            "file",
            format!("must be at most {MAX_BYTES} bytes"),
        ));
    }
    let mut chunks = ChunkBuilder::default();
    let mut seen = SeenCards::default();
    let naming = Naming::File;
    let columns = match format {
        SourceFormat::JsonLines => {
            for (line, start, end, text) in json_lines(bytes) {
                let item: ItemLine = serde_json::from_slice(text)
                    .map_err(|e| FieldError::new(format!("lines[{line}]"), json_problem(&e)))?;
                let spec = item.check(line, checks).map_err(at(naming, line, 0))?;
                seen.add(&spec, naming, 0)?;
                chunks.add(line, start, end)?;
            }
            None
        }
        SourceFormat::Csv => {
            let mut rows = CsvRows::new(bytes, false);
            let header = match rows.next() {
                Some(Ok((_, _, _, header))) => header,
                _ => return Err(FieldError::new("lines[1]", "a header row is required")),
            };
            let columns = csv_columns(&header)?;
            for row in rows {
                let (line, start, end, row) = row?;
                let spec = csv_item(&columns, &row)
                    .check(line, checks)
                    .map_err(at(naming, line, 0))?;
                seen.add(&spec, naming, 0)?;
                chunks.add(line, start, end)?;
            }
            Some(columns)
        }
    };
    chunks.finish(bytes.len() as u64, columns)
}

/// Inline items: checked (named `items[i].field`), then written as JSON lines.
pub fn check_inline(
    items: Vec<ItemLine>,
    checks: &Checks<'_>,
) -> Result<(Vec<u8>, CheckedSource), FieldError> {
    let mut seen = SeenCards::default();
    let mut body = Vec::new();
    let mut chunks = ChunkBuilder::default();
    for (index, item) in items.into_iter().enumerate() {
        let line = index as u32 + 1;
        let text = serde_json::to_vec(&item).expect("an item line serializes");
        let spec = item
            .check(line, checks)
            .map_err(at(Naming::Inline, line, index))?;
        seen.add(&spec, Naming::Inline, index)?;
        let start = body.len() as u64;
        body.extend_from_slice(&text);
        body.push(b'\n');
        chunks.add(line, start, body.len() as u64)?;
    }
    let checked = chunks.finish(body.len() as u64, None)?;
    Ok((body, checked))
}

/// The items of one chunk's bytes, as the worker reads them back (checked again: the
/// object could have changed under a key that was reused).
pub fn read_chunk(
    format: SourceFormat,
    columns: Option<&[String]>,
    range: &ChunkRange,
    bytes: &[u8],
    checks: &Checks<'_>,
) -> Vec<Result<ItemSpec, (u32, FieldError)>> {
    match format {
        SourceFormat::JsonLines => json_lines(bytes)
            .map(|(n, _, _, text)| {
                let line = range.first_line + n - 1;
                serde_json::from_slice::<ItemLine>(text)
                    .map_err(|e| FieldError::new("item", json_problem(&e)))
                    .and_then(|item| item.check(line, checks))
                    .map_err(|e| (line, e))
            })
            .collect(),
        SourceFormat::Csv => {
            let columns = columns.unwrap_or_default();
            CsvRows::new(bytes, true)
                .map(|row| {
                    let (n, _, _, row) = row.map_err(|e| (range.first_line, e))?;
                    let line = range.first_line + n - 1;
                    csv_item(columns, &row)
                        .check(line, checks)
                        .map_err(|e| (line, e))
                })
                .collect()
        }
    }
}

/// The non-blank rows of CSV bytes: (line number, start, end, the row).
struct CsvRows<'a> {
    reader: csv::Reader<&'a [u8]>,
}

impl<'a> CsvRows<'a> {
    fn new(bytes: &'a [u8], flexible: bool) -> Self {
        Self {
            reader: csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(flexible)
                .from_reader(bytes),
        }
    }
}

impl Iterator for CsvRows<'_> {
    type Item = Result<(u32, u64, u64, csv::StringRecord), FieldError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let mut row = csv::StringRecord::new();
            match self.reader.read_record(&mut row) {
                Ok(false) => return None,
                Err(error) => return Some(Err(csv_problem(&error))),
                Ok(true) => {
                    if row.iter().all(|cell| cell.trim().is_empty()) {
                        continue;
                    }
                    let position = row.position().expect("a read record has its position");
                    let (line, start) = (position.line() as u32, position.byte());
                    let end = self.reader.position().byte();
                    return Some(Ok((line, start, end, row)));
                }
            }
        }
    }
}

/// The non-blank lines of JSON lines: (line number, start, end including the newline,
/// the line's bytes).
fn json_lines(bytes: &[u8]) -> impl Iterator<Item = (u32, u64, u64, &[u8])> {
    let mut start = 0usize;
    let mut number = 0u32;
    std::iter::from_fn(move || {
        while start < bytes.len() {
            number += 1;
            let end = bytes[start..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(bytes.len(), |i| start + i + 1);
            let line = (number, start as u64, end as u64, &bytes[start..end]);
            start = end;
            if !line.3.iter().all(u8::is_ascii_whitespace) {
                return Some(line);
            }
        }
        None
    })
}

/// A JSON problem without the text it quotes (which could be a card's or a contact's).
fn json_problem(error: &serde_json::Error) -> String {
    let message = error.to_string();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or_default();
        return format!("{name} is not a field of an item");
    }
    format!(
        "is not a JSON object of an item (column {})",
        error.column()
    )
}

fn csv_problem(error: &csv::Error) -> FieldError {
    let line = error.position().map(|p| p.line()).unwrap_or_default();
    let message = match error.kind() {
        csv::ErrorKind::UnequalLengths { .. } => "has another number of columns than the header",
        csv::ErrorKind::Utf8 { .. } => "is not UTF-8",
        _ => "is not a CSV row",
    };
    FieldError::new(format!("lines[{line}]"), message)
}

/// Cards already given, and on which line.
#[derive(Default)]
struct SeenCards(HashMap<String, u32>);

impl SeenCards {
    fn add(&mut self, spec: &ItemSpec, naming: Naming, index: usize) -> Result<(), FieldError> {
        if let Some(first) = self.0.insert(spec.card_id.to_string(), spec.line) {
            return Err(FieldError::new(
                naming.field(spec.line, index, "card_id"),
                format!("is given twice (first on line {first})"),
            ));
        }
        Ok(())
    }
}

/// Chunks of [`CHUNK_ITEMS`] items, by byte range.
#[derive(Default)]
struct ChunkBuilder {
    chunks: Vec<ChunkRange>,
    items: usize,
}

impl ChunkBuilder {
    fn add(&mut self, line: u32, start: u64, end: u64) -> Result<(), FieldError> {
        self.items += 1;
        if self.items > MAX_ITEMS {
            return Err(FieldError::new(
                "items",
                format!("a job takes at most {MAX_ITEMS} items"),
            ));
        }
        match self.chunks.last_mut() {
            Some(chunk) if (chunk.items as usize) < CHUNK_ITEMS => {
                chunk.end = end;
                chunk.items += 1;
            }
            _ => self.chunks.push(ChunkRange {
                first_line: line,
                start,
                end,
                items: 1,
            }),
        }
        Ok(())
    }

    fn finish(self, _len: u64, columns: Option<Vec<String>>) -> Result<CheckedSource, FieldError> {
        if self.items == 0 {
            return Err(FieldError::new("items", "must contain at least one item"));
        }
        Ok(CheckedSource {
            items: self.items,
            chunks: self.chunks,
            columns,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks() -> Checks<'static> {
        Checks {
            owns_budget: &|budget| budget == "ci202210231533401801",
            today: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
        }
    }

    #[test]
    fn a_json_lines_file_is_chunked_by_byte_range_and_read_back_per_chunk() {
        let mut file = String::new();
        for n in 0..250 {
            file.push_str(&format!(
                "{{\"card_id\": \"card{n:020}\", \"cardholder_id\": \"471041678120300545\"}}\n"
            ));
            if n == 10 {
                file.push('\n');
            }
        }
        let checked = check_file(SourceFormat::JsonLines, file.as_bytes(), &checks()).unwrap();
        assert_eq!(checked.items, 250);
        assert_eq!(checked.chunks.len(), 3);
        let last = checked.chunks[2];
        assert_eq!(last.items, 50);
        let bytes = &file.as_bytes()[last.start as usize..last.end as usize];
        let items = read_chunk(SourceFormat::JsonLines, None, &last, bytes, &checks());
        assert_eq!(items.len(), 50);
        let first = items[0].as_ref().unwrap();
        assert_eq!(first.card_id.as_str(), "card00000000000000000200");
        assert_eq!(first.line, last.first_line);
    }

    #[test]
    fn a_bad_line_is_named_by_its_line_and_field() {
        let file = "{\"card_id\": \"card1\", \"cardholder_id\": \"471041678120300545\"}\n{\"card_id\": \"\", \"cardholder_id\": \"471041678120300545\"}\n";
        let error = check_file(SourceFormat::JsonLines, file.as_bytes(), &checks()).unwrap_err();
        assert_eq!(error.field, "lines[2].card_id");
        let twice = "{\"card_id\": \"card1\", \"cardholder_id\": \"471041678120300545\"}\n{\"card_id\": \"card1\", \"cardholder_id\": \"471041678120300546\"}\n";
        let error = check_file(SourceFormat::JsonLines, twice.as_bytes(), &checks()).unwrap_err();
        assert_eq!(error.field, "lines[2].card_id");
        assert!(error.message.contains("line 1"), "{}", error.message);
        let csv = "card_id,cardholder_id\ncard1,471041678120300545\ncard2,x!\n";
        let error = check_file(SourceFormat::Csv, csv.as_bytes(), &checks()).unwrap_err();
        assert_eq!(error.field, "lines[3].cardholder_id");
        let ragged = "card_id,cardholder_id\ncard1,471041678120300545,extra\n";
        let error = check_file(SourceFormat::Csv, ragged.as_bytes(), &checks()).unwrap_err();
        assert_eq!(error.field, "lines[2]");
    }

    #[test]
    fn a_csv_chunk_reads_back_with_the_headers_columns() {
        let mut csv = String::from("cardholder_id,card_id\n");
        for n in 0..120 {
            csv.push_str(&format!("471041678120300545,card{n:04}\n"));
        }
        let checked = check_file(SourceFormat::Csv, csv.as_bytes(), &checks()).unwrap();
        assert_eq!(checked.chunks.len(), 2);
        let second = checked.chunks[1];
        assert_eq!(second.first_line, 102);
        let bytes = &csv.as_bytes()[second.start as usize..second.end as usize];
        let items = read_chunk(
            SourceFormat::Csv,
            checked.columns.as_deref(),
            &second,
            bytes,
            &checks(),
        );
        assert_eq!(items.len(), 20);
        assert_eq!(items[0].as_ref().unwrap().card_id.as_str(), "card0100");
    }
}
