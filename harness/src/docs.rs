//! The documents' sections and tables, for tests that hold them equal to
//! what the code does (the configuration tables to what the binaries
//! accept, the README's commands to what the server answers).

/// What follows the heading `heading` in the document at `path` (relative
/// to the workspace), to the end of the document.
pub fn section(path: &str, heading: &str) -> String {
    let file = crate::workspace_root().join(path);
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", file.display()));
    text.split_once(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("{path} has no heading {heading:?}"))
        .1
        .to_string()
}

/// The cells of each row of the first table under the heading `heading`
/// of `docs/NAME`, header and separator left out, each cell trimmed.
pub fn table(name: &str, heading: &str) -> Vec<Vec<String>> {
    let rows: Vec<Vec<String>> = section(&format!("docs/{name}"), heading)
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2)
        .map(|line| {
            line.trim()
                .trim_matches('|')
                .split(" | ")
                .map(|cell| cell.trim().to_string())
                .collect()
        })
        .collect();
    assert!(!rows.is_empty(), "docs/{name}: no table under {heading:?}");
    rows
}

/// The text of each `` `code` `` span in `cell`.
pub fn code_spans(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}
