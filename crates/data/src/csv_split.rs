//! Splitting CSV text into records and fields (RFC 4180), tuned for the Kaggle files.
//!
//! Kaggle rows are long (394 fields, ~1.1 KB) and almost never quoted. The common case — a line without a `"` —
//! is split with one plain scan for commas, several times faster than a general CSV state machine. Lines with quotes
//! take the full path: quoted fields, `""` escapes, and line breaks inside quotes (the record then spans several
//! lines; line numbers stay exact). CRLF and LF endings are both accepted.
//!
//! # What a malformed quote costs
//!
//! A quote only means something at the start of a field (RFC 4180 quotes whole fields). So:
//! - a `"` inside an unquoted field (`master"card`) makes its record bad, and the record is that one line: a quote
//!   there opens nothing;
//! - text after a closing quote (`"ab"c`) makes its record bad, likewise one line;
//! - a field that starts with `"` and does not close on its line is followed into the next lines, as RFC 4180
//!   allows. If it never closes (end of file, or not within [`MAX_RECORD_BYTES`]), or the lines it swallows do not
//!   make a valid record (text after the quote that would close it, a stray quote, or a field count other than the
//!   header's), the bad record is only its first line and reading goes on at the line after it.
//!
//! A stray quote therefore costs its own line and never the lines after it, while legitimate quoted fields (commas,
//! doubled quotes, line breaks) keep working.

use std::io::{self, BufRead};

/// The most bytes a record may span while a quoted field in it is still open. A quote left open by mistake is
/// followed no further than this; a legitimate multi-line field is far shorter in any table here.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// Reads records from a buffered byte stream; fields are borrowed until the next call.
pub struct RecordSplitter<R> {
    input: R,
    /// The raw text of the current record (possibly several physical lines), with its line end.
    line: Vec<u8>,
    /// End of the current record's text in `line`, without its line end.
    record_end: usize,
    /// Lines read ahead while following an open quote that turned out not to close properly: read again as records.
    pending: Vec<u8>,
    /// How much of `pending` has been consumed.
    pending_pos: usize,
    /// Unquoted field contents, used only for records that contain quotes.
    unquoted: Vec<u8>,
    /// `(start, end)` of each field, in `line` or in `unquoted`.
    bounds: Vec<(usize, usize)>,
    quoted: bool,
    /// Fields past the first `field_limit` of the current record: counted, not located.
    uncounted: usize,
    /// How many leading fields of a record are located (see [`RecordSplitter::set_field_limit`]).
    field_limit: usize,
    /// Fields a record must have (the header's count), used to judge records that span lines; `None` before the
    /// header is known.
    expected_fields: Option<usize>,
    /// Physical line number of the current record's first line (1-based).
    first_line: u64,
    lines_read: u64,
}

/// Why a record could not be split. `field` is the 0-based position of the field at fault in the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitError {
    /// A `"` inside a field that does not start with one, e.g. `master"card`.
    StrayQuote { field: usize },
    /// Text right after a closing quote, e.g. `"ab"c`.
    TextAfterQuote { field: usize },
    /// A field starts with `"` and does not close on its line, and what follows does not complete the record.
    UnclosedQuote { field: usize, why: Unclosed },
}

/// Why a quoted field that runs past the end of its line was not accepted as a multi-line field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unclosed {
    /// The file ends inside the field.
    EndOfFile,
    /// No closing quote within [`MAX_RECORD_BYTES`].
    TooLong,
    /// The quote that would close it, on `line`, is followed by text, or a later field there holds a stray quote.
    BadClose { line: u64 },
    /// Closing it on `line` makes a record of `fields` fields where the header has `expected`.
    FieldCount { line: u64, fields: usize, expected: usize },
}

impl SplitError {
    /// The 0-based position in the record of the field at fault.
    pub fn field(&self) -> usize {
        match self {
            SplitError::StrayQuote { field }
            | SplitError::TextAfterQuote { field }
            | SplitError::UnclosedQuote { field, .. } => *field,
        }
    }
}

impl std::fmt::Display for SplitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SplitError::StrayQuote { .. } => {
                f.write_str("a quote inside an unquoted field (RFC 4180 allows quotes only around a whole field)")
            }
            SplitError::TextAfterQuote { .. } => f.write_str("text follows the closing quote of a quoted field"),
            SplitError::UnclosedQuote { why, .. } => {
                f.write_str("a quoted field opens here and is not closed on this line; ")?;
                match why {
                    Unclosed::EndOfFile => f.write_str("the file ends inside it"),
                    Unclosed::TooLong => write!(f, "it is not closed within {} MiB", MAX_RECORD_BYTES >> 20),
                    Unclosed::BadClose { line } => {
                        write!(f, "the quote that would close it (line {line}) does not end a valid field")
                    }
                    Unclosed::FieldCount { line, fields, expected } => write!(
                        f,
                        "closing it on line {line} would make a record of {fields} fields, the header has {expected}"
                    ),
                }
            }
        }
    }
}

impl<R: BufRead> RecordSplitter<R> {
    pub fn new(input: R) -> Self {
        RecordSplitter {
            input,
            line: Vec::with_capacity(4096),
            record_end: 0,
            pending: Vec::new(),
            pending_pos: 0,
            unquoted: Vec::new(),
            bounds: Vec::with_capacity(512),
            quoted: false,
            uncounted: 0,
            field_limit: usize::MAX,
            expected_fields: None,
            first_line: 0,
            lines_read: 0,
        }
    }

    /// Locates only the first `limit` fields of each record from now on; the rest are counted (so [`len`] stays
    /// exact and a short or long row is still caught) but not split. A reader that needs the first 90 of 394
    /// columns skips most of the per-field work this way. Records with quotes are always split in full.
    ///
    /// [`len`]: RecordSplitter::len
    pub fn set_field_limit(&mut self, limit: usize) {
        self.field_limit = limit.max(1);
    }

    /// The number of fields every record has (the header's). A record whose quoted field spans lines is accepted
    /// only with this many fields; otherwise its quote is taken for a stray one (see the module docs). Single-line
    /// records are not judged here: the caller reports a wrong count with the row's columns.
    pub fn set_expected_fields(&mut self, fields: usize) {
        self.expected_fields = Some(fields);
    }

    /// Appends the next physical line (read-ahead lines first, then the input) to `line`; `false` at end of input.
    #[inline]
    fn append_line(&mut self) -> io::Result<bool> {
        if !self.pending.is_empty() {
            return self.append_pending_line();
        }
        if self.input.read_until(b'\n', &mut self.line)? == 0 {
            return Ok(false);
        }
        self.lines_read += 1;
        Ok(true)
    }

    /// [`RecordSplitter::append_line`] while lines read ahead are pending (rare: only after a resync).
    #[cold]
    fn append_pending_line(&mut self) -> io::Result<bool> {
        let rest = &self.pending[self.pending_pos..];
        match memchr::memchr(b'\n', rest) {
            Some(p) => {
                self.line.extend_from_slice(&rest[..=p]);
                self.pending_pos += p + 1;
            }
            None => {
                // The read-ahead ended mid-line: the line goes on in the input.
                self.line.extend_from_slice(rest);
                self.pending_pos = self.pending.len();
                self.input.read_until(b'\n', &mut self.line)?;
            }
        }
        if self.pending_pos == self.pending.len() {
            self.pending.clear();
            self.pending_pos = 0;
        }
        self.lines_read += 1;
        Ok(true)
    }

    /// Advances to the next record. `Ok(None)` at end of input; `Ok(Some(Err(_)))` for a malformed record, which
    /// is consumed so reading can go on (see the module docs for how much a malformed record consumes).
    pub fn next_record(&mut self) -> io::Result<Option<Result<(), SplitError>>> {
        self.line.clear();
        self.bounds.clear();
        self.uncounted = 0;
        if !self.append_line()? {
            return Ok(None);
        }
        self.first_line = self.lines_read;
        let end = trim_line_end(&self.line);
        self.record_end = end;
        if memchr::memchr(b'"', &self.line).is_none() {
            self.quoted = false;
            // Fields average a few bytes: a plain scan beats a vectorised search per comma here.
            let text = &self.line[..end];
            let mut start = 0;
            for (i, &b) in text.iter().enumerate() {
                if b == b',' {
                    self.bounds.push((start, i));
                    start = i + 1;
                    if self.bounds.len() == self.field_limit {
                        // The rest only needs counting, which the compiler vectorises.
                        self.uncounted = text[start..].iter().filter(|&&b| b == b',').count() + 1;
                        return Ok(Some(Ok(())));
                    }
                }
            }
            self.bounds.push((start, end));
            return Ok(Some(Ok(())));
        }
        self.quoted = true;
        let result = self.split_quoted()?;
        if result.is_err() {
            self.bounds.clear();
        }
        Ok(Some(result))
    }

    /// Splits a record that contains quotes, reading on while a quoted field spans lines.
    fn split_quoted(&mut self) -> io::Result<Result<(), SplitError>> {
        self.unquoted.clear();
        let first_line_len = self.line.len();
        // The field whose quote is open past the end of the first line, if any.
        let mut open_field = None;
        let mut i = 0;
        loop {
            let field = self.bounds.len();
            let start = self.unquoted.len();
            if self.line.get(i) == Some(&b'"') {
                i += 1;
                loop {
                    match memchr::memchr(b'"', &self.line[i..]) {
                        Some(p) if self.line.get(i + p + 1) == Some(&b'"') => {
                            self.unquoted.extend_from_slice(&self.line[i..=i + p]);
                            i += p + 2;
                        }
                        Some(p) => {
                            self.unquoted.extend_from_slice(&self.line[i..i + p]);
                            i += p + 1;
                            break;
                        }
                        None => {
                            // The field goes on past this line.
                            self.unquoted.extend_from_slice(&self.line[i..]);
                            i = self.line.len();
                            open_field.get_or_insert(field);
                            if self.line.len() > MAX_RECORD_BYTES {
                                return Ok(self.resync(first_line_len, field, Unclosed::TooLong));
                            }
                            if !self.append_line()? {
                                return Ok(self.resync(first_line_len, field, Unclosed::EndOfFile));
                            }
                        }
                    }
                }
                self.bounds.push((start, self.unquoted.len()));
                match self.line.get(i) {
                    Some(b',') => i += 1,
                    None | Some(b'\n') => break,
                    Some(b'\r') if matches!(self.line.get(i + 1), None | Some(b'\n')) => break,
                    Some(_) => {
                        return Ok(match open_field {
                            Some(f) => self.resync(first_line_len, f, Unclosed::BadClose { line: self.lines_read }),
                            None => Err(SplitError::TextAfterQuote { field }),
                        })
                    }
                }
            } else {
                let rest = &self.line[i..];
                match memchr::memchr3(b',', b'"', b'\n', rest) {
                    Some(p) if rest[p] == b',' => {
                        self.unquoted.extend_from_slice(&rest[..p]);
                        self.bounds.push((start, self.unquoted.len()));
                        i += p + 1;
                    }
                    Some(p) if rest[p] == b'"' => {
                        return Ok(match open_field {
                            Some(f) => self.resync(first_line_len, f, Unclosed::BadClose { line: self.lines_read }),
                            None => Err(SplitError::StrayQuote { field }),
                        })
                    }
                    found => {
                        let end = found.unwrap_or(rest.len());
                        let end = if end > 0 && rest[end - 1] == b'\r' { end - 1 } else { end };
                        self.unquoted.extend_from_slice(&rest[..end]);
                        self.bounds.push((start, self.unquoted.len()));
                        break;
                    }
                }
            }
        }
        self.record_end = trim_line_end(&self.line);
        if let (Some(f), Some(expected)) = (open_field, self.expected_fields) {
            if self.bounds.len() != expected {
                let why = Unclosed::FieldCount { line: self.lines_read, fields: self.bounds.len(), expected };
                return Ok(self.resync(first_line_len, f, why));
            }
        }
        Ok(Ok(()))
    }

    /// Gives up on a record that spans lines: the bad record is its first line, the lines after it are read again.
    fn resync(&mut self, first_line_len: usize, field: usize, why: Unclosed) -> Result<(), SplitError> {
        if self.line.len() > first_line_len {
            let mut again = self.line.split_off(first_line_len);
            again.extend_from_slice(&self.pending[self.pending_pos..]);
            self.pending = again;
            self.pending_pos = 0;
            self.lines_read = self.first_line;
        }
        self.record_end = trim_line_end(&self.line);
        Err(SplitError::UnclosedQuote { field, why })
    }

    /// Number of fields of the current record (located or only counted).
    pub fn len(&self) -> usize {
        self.bounds.len() + self.uncounted
    }

    pub fn is_empty(&self) -> bool {
        self.bounds.is_empty()
    }

    /// The located fields of the current record: all of them, or the first `field_limit`.
    pub fn fields(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let text = if self.quoted { &self.unquoted } else { &self.line };
        self.bounds.iter().map(move |&(s, e)| &text[s..e])
    }

    /// The raw bytes of the current record as they are in the file, without its final line end: what a dead
    /// letter should carry. For a malformed record this is only what it consumed (see the module docs).
    pub fn raw_record(&self) -> &[u8] {
        &self.line[..self.record_end]
    }

    /// Line number (1-based) where the current record starts.
    pub fn line_number(&self) -> u64 {
        self.first_line
    }
}

/// Length of a line without its `\n` or `\r\n`.
fn trim_line_end(line: &[u8]) -> usize {
    let mut end = line.len();
    if end > 0 && line[end - 1] == b'\n' {
        end -= 1;
    }
    if end > 0 && line[end - 1] == b'\r' {
        end -= 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(text: &str) -> Vec<(u64, Result<Vec<String>, SplitError>)> {
        let mut s = RecordSplitter::new(text.as_bytes());
        let mut out = Vec::new();
        while let Some(r) = s.next_record().expect("io") {
            let fields = r.map(|()| s.fields().map(|f| String::from_utf8_lossy(f).into_owned()).collect());
            out.push((s.line_number(), fields));
        }
        out
    }

    #[test]
    fn plain_lines_split_on_commas_with_lf_or_crlf() {
        let got = split_all("a,b,,c\r\n1,2,3,\n");
        assert_eq!(got[0], (1, Ok(vec!["a".into(), "b".into(), "".into(), "c".into()])));
        assert_eq!(got[1], (2, Ok(vec!["1".into(), "2".into(), "3".into(), "".into()])));
    }

    #[test]
    fn quoted_fields_with_commas_escaped_quotes_and_newlines() {
        let got = split_all("x,\"a,b\",\"say \"\"hi\"\"\"\n\"multi\nline\",2\nlast,1");
        assert_eq!(got[0].1, Ok(vec!["x".into(), "a,b".into(), "say \"hi\"".into()]));
        assert_eq!(got[1], (2, Ok(vec!["multi\nline".into(), "2".into()])));
        assert_eq!(got[2], (4, Ok(vec!["last".into(), "1".into()])));
    }

    #[test]
    fn a_field_limit_locates_the_leading_fields_and_counts_the_rest() {
        let mut s = RecordSplitter::new("a,b,c,d,e\nx,,y\n1,2\n\"q,1\",2,3,4\n".as_bytes());
        s.set_field_limit(2);
        let mut got = Vec::new();
        while let Some(r) = s.next_record().expect("io") {
            assert_eq!(r, Ok(()));
            got.push((s.len(), s.fields().map(|f| String::from_utf8_lossy(f).into_owned()).collect::<Vec<_>>()));
        }
        assert_eq!(got[0], (5, vec!["a".to_string(), "b".to_string()]));
        assert_eq!(got[1], (3, vec!["x".to_string(), "".to_string()]));
        assert_eq!(got[2], (2, vec!["1".to_string(), "2".to_string()]));
        // Quoted records are split in full.
        assert_eq!(got[3].0, 4);
        assert_eq!(got[3].1[0], "q,1");
    }

    #[test]
    fn malformed_quoting_is_reported_per_record() {
        let got = split_all("\"ab\"c,1\nok,2\n\"open,3\n");
        assert_eq!(got[0].1, Err(SplitError::TextAfterQuote { field: 0 }));
        assert_eq!(got[1].1, Ok(vec!["ok".into(), "2".into()]));
        assert_eq!(got[2].1, Err(SplitError::UnclosedQuote { field: 0, why: Unclosed::EndOfFile }));
    }

    /// Splits with the header's field count known, as the table reader does; also returns each record's raw text.
    fn split_expecting(text: &str, fields: usize) -> Vec<(u64, Result<Vec<String>, SplitError>, String)> {
        let mut s = RecordSplitter::new(text.as_bytes());
        s.set_expected_fields(fields);
        let mut out = Vec::new();
        while let Some(r) = s.next_record().expect("io") {
            let fields = r.map(|()| s.fields().map(|f| String::from_utf8_lossy(f).into_owned()).collect());
            out.push((s.line_number(), fields, String::from_utf8_lossy(s.raw_record()).into_owned()));
        }
        out
    }

    fn ok(fields: &[&str]) -> Result<Vec<String>, SplitError> {
        Ok(fields.iter().map(|f| f.to_string()).collect())
    }

    #[test]
    fn a_quote_inside_an_unquoted_field_costs_its_line_only() {
        let got = split_expecting("a,master\"card,c\r\nd,e,f\ng,h,i\n", 3);
        assert_eq!(got[0], (1, Err(SplitError::StrayQuote { field: 1 }), "a,master\"card,c".to_string()));
        assert_eq!((got[1].0, &got[1].1), (2, &ok(&["d", "e", "f"])));
        assert_eq!((got[2].0, &got[2].1), (3, &ok(&["g", "h", "i"])));
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn a_quote_that_never_closes_costs_its_line_only() {
        let got = split_expecting("a,\"open,c\nd,e,f\ng,h,i", 3);
        let unclosed = SplitError::UnclosedQuote { field: 1, why: Unclosed::EndOfFile };
        assert_eq!(got[0], (1, Err(unclosed), "a,\"open,c".to_string()));
        assert_eq!((got[1].0, &got[1].1), (2, &ok(&["d", "e", "f"])));
        assert_eq!((got[2].0, &got[2].1), (3, &ok(&["g", "h", "i"])));
    }

    #[test]
    fn a_stray_opening_quote_closed_by_a_later_lines_quote_costs_its_line_only() {
        // Line 1's quote would close at line 3's first quote, which is followed by text: line 1 alone is bad.
        let got = split_expecting("a,\"open,c\nd,e,f\ng,\"x,y\",i\nj,k,l\n", 3);
        let why = Unclosed::BadClose { line: 3 };
        assert_eq!(got[0].1, Err(SplitError::UnclosedQuote { field: 1, why }));
        assert_eq!(got[0].2, "a,\"open,c");
        assert_eq!((got[1].0, &got[1].1), (2, &ok(&["d", "e", "f"])));
        assert_eq!((got[2].0, &got[2].1), (3, &ok(&["g", "x,y", "i"])));
        assert_eq!((got[3].0, &got[3].1), (4, &ok(&["j", "k", "l"])));
    }

    #[test]
    fn a_multi_line_record_must_have_the_headers_field_count() {
        // Closing line 1's quote on line 2 gives 4 fields where 3 are expected: line 1 is bad, line 2 is read again
        // (and is bad itself: its quote is inside a field), line 3 is good.
        let got = split_expecting("a,\"b\nc\",d,e\nx,y,z\n", 3);
        let why = Unclosed::FieldCount { line: 2, fields: 4, expected: 3 };
        assert_eq!(got[0].1, Err(SplitError::UnclosedQuote { field: 1, why }));
        assert_eq!((got[1].0, &got[1].1), (2, &Err(SplitError::StrayQuote { field: 0 })));
        assert_eq!((got[2].0, &got[2].1), (3, &ok(&["x", "y", "z"])));
        // The same record with the right count is a legitimate multi-line field, CRLF and all.
        let got = split_expecting("a,\"b\r\nc\",d\r\nx,y,z\r\n", 3);
        assert_eq!((got[0].0, &got[0].1, got[0].2.as_str()), (1, &ok(&["a", "b\r\nc", "d"]), "a,\"b\r\nc\",d"));
        assert_eq!((got[1].0, &got[1].1), (3, &ok(&["x", "y", "z"])));
    }

    #[test]
    fn an_open_quote_is_followed_no_further_than_the_record_limit() {
        let mut text = String::from("a,\"open,c\n");
        let filler = "d,e,f\n";
        let lines = MAX_RECORD_BYTES / filler.len() + 2;
        text.push_str(&filler.repeat(lines));
        text.push_str("g,\"closed\",i\n");
        let got = split_expecting(&text, 3);
        assert_eq!(got[0].1, Err(SplitError::UnclosedQuote { field: 1, why: Unclosed::TooLong }));
        assert_eq!(got.len(), lines + 2, "every line after the bad one is read");
        assert!(got[1..=lines].iter().all(|r| r.1 == ok(&["d", "e", "f"])));
        assert_eq!(got[lines + 1], (lines as u64 + 2, ok(&["g", "closed", "i"]), "g,\"closed\",i".to_string()));
    }
}
