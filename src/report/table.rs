//! One table model for the text and Markdown renderings of a report: columns are declared
//! once, rows filled once, and each format is a way of drawing the same cells.

/// A column: its header, its minimum width in text, how it aligns, and whether Markdown
/// shows its cells as code.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    header: &'static str,
    min_width: usize,
    right: bool,
    code: bool,
}

impl Column {
    pub fn left(header: &'static str) -> Self {
        Self {
            header,
            min_width: 0,
            right: false,
            code: false,
        }
    }

    pub fn right(header: &'static str) -> Self {
        Self {
            right: true,
            ..Self::left(header)
        }
    }

    /// At least `width` characters wide in text, so tables of one kind line up run to run.
    pub fn width(self, width: usize) -> Self {
        Self {
            min_width: width,
            ..self
        }
    }

    /// Shown as `code` in Markdown (names, hashes, templates).
    pub fn code(self) -> Self {
        Self { code: true, ..self }
    }
}

/// A cell: its text, and whether it should stand out (a failure).
#[derive(Debug, Clone, Default)]
pub struct Cell {
    text: String,
    strong: bool,
}

impl Cell {
    pub fn strong(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            strong: true,
        }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Self {
            text,
            strong: false,
        }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        Self::from(text.to_string())
    }
}

/// The terminal's width, when stdout is one (set once by the CLI).
static WIDTH: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

/// Below this, wrapping would make a column of single words: the line is left long.
const MIN_WRAP: usize = 20;

/// Fits text tables to a terminal of `columns` (the first call wins).
pub fn set_width(columns: usize) {
    let _ = WIDTH.set(columns);
}

/// `text` in lines of at most `room` characters, broken between words (a word longer than
/// the room stands alone on its line).
fn wrap(text: &str, room: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let needed = line.chars().count() + usize::from(!line.is_empty()) + word.chars().count();
        if !line.is_empty() && needed > room {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines
}

#[derive(Debug, Clone)]
pub struct Table {
    columns: Vec<Column>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new(columns: impl IntoIterator<Item = Column>) -> Self {
        Self {
            columns: columns.into_iter().collect(),
            rows: Vec::new(),
        }
    }

    pub fn row<C: Into<Cell>>(&mut self, cells: impl IntoIterator<Item = C>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Aligned columns two spaces apart; a left-aligned last column is not padded. On a
    /// terminal (its width set by the CLI), a last column that would run past the edge
    /// wraps at word boundaries onto lines indented to it.
    pub fn text(&self) -> String {
        self.text_within(WIDTH.get().copied())
    }

    /// `text`, fitted to `width` columns when given.
    pub fn text_within(&self, width: Option<usize>) -> String {
        let widths: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(i))
                    .map(|cell| cell.text.chars().count())
                    .chain([c.min_width, c.header.len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let headers: Vec<&str> = self.columns.iter().map(|c| c.header).collect();
        let mut out = self.text_line(&headers, &widths);
        // Where the last column starts, and how much room it has before the edge.
        let last = self.columns.len().saturating_sub(1);
        let indent: usize = widths[..last].iter().map(|w| w + 2).sum();
        let room = width
            .filter(|_| self.columns.last().is_some_and(|c| !c.right))
            .map(|w| w.saturating_sub(indent))
            .filter(|room| *room >= MIN_WRAP);
        for row in &self.rows {
            let mut cells: Vec<&str> = row.iter().map(|c| c.text.as_str()).collect();
            let lines = match (room, cells.get(last)) {
                (Some(room), Some(text)) => wrap(text, room),
                _ => Vec::new(),
            };
            if lines.len() <= 1 {
                out.push_str(&self.text_line(&cells, &widths));
                continue;
            }
            cells[last] = &lines[0];
            out.push_str(&self.text_line(&cells, &widths));
            for line in &lines[1..] {
                out.push_str(&format!("{:indent$}{line}\n", ""));
            }
        }
        out
    }

    fn text_line(&self, cells: &[&str], widths: &[usize]) -> String {
        let last = self.columns.len().saturating_sub(1);
        let mut parts = Vec::with_capacity(self.columns.len());
        for (i, column) in self.columns.iter().enumerate() {
            let cell = cells.get(i).copied().unwrap_or("");
            let width = widths[i];
            parts.push(match (column.right, i == last) {
                (true, _) => format!("{cell:>width$}"),
                (false, false) => format!("{cell:width$}"),
                (false, true) => cell.to_string(),
            });
        }
        let mut line = parts.join("  ");
        line.push('\n');
        line
    }

    /// A pipe table; cells are escaped so that no value can break the table.
    pub fn markdown(&self) -> String {
        let headers: Vec<&str> = self.columns.iter().map(|c| c.header).collect();
        let mut out = format!("| {} |\n", headers.join(" | "));
        out.push_str(&format!("|{}\n", "---|".repeat(self.columns.len())));
        for row in &self.rows {
            let cells: Vec<String> = self
                .columns
                .iter()
                .enumerate()
                .map(|(i, column)| markdown_cell(row.get(i), column.code))
                .collect();
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        out
    }
}

fn markdown_cell(cell: Option<&Cell>, code: bool) -> String {
    let Some(cell) = cell else {
        return String::new();
    };
    let text = cell.text.replace('|', "\\|").replace('\n', " ");
    match (code && !text.is_empty(), cell.strong) {
        (true, _) => format!("`{text}`"),
        (false, true) => format!("**{text}**"),
        (false, false) => text,
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_long_last_column_wraps_under_itself_on_a_narrow_terminal() {
        let mut table = Table::new([Column::left("stack"), Column::left("change")]);
        table.row([
            "api",
            "replace the listener rule and the target group of the scoring service",
        ]);
        let fitted = table.text_within(Some(40));
        assert_eq!(
            fitted,
            "stack  change\napi    replace the listener rule and the\n       target group of the scoring\n       service\n"
        );
        assert!(fitted.lines().all(|l| l.chars().count() <= 40), "{fitted}");
        // Off a terminal (no width), whole lines.
        assert_eq!(table.text_within(None).lines().count(), 2);
        // Too narrow to wrap sensibly: left long.
        assert_eq!(table.text_within(Some(10)).lines().count(), 2);
    }

    use super::*;

    fn sample() -> Table {
        let mut t = Table::new([
            Column::left("stack").width(5).code(),
            Column::left("result").width(7),
            Column::right("duration").width(8),
            Column::left("note"),
        ]);
        t.row([
            "network".into(),
            Cell::from("ok"),
            "1.50s".into(),
            "".into(),
        ]);
        t.row([
            Cell::from("db"),
            Cell::strong("FAILED"),
            "12.25s".into(),
            "a | b".into(),
        ]);
        t
    }

    #[test]
    fn text_aligns_columns_and_leaves_the_last_unpadded() {
        assert_eq!(
            sample().text(),
            "stack    result   duration  note\nnetwork  ok          1.50s  \ndb       FAILED     12.25s  a | b\n"
        );
    }

    #[test]
    fn markdown_draws_the_same_cells_escaped() {
        assert_eq!(
            sample().markdown(),
            "| stack | result | duration | note |\n|---|---|---|---|\n| `network` | ok | 1.50s |  |\n| `db` | **FAILED** | 12.25s | a \\| b |\n"
        );
    }
}
