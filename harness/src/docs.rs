//! The documents' tables, for tests that hold them equal to what the code
//! does (the configuration tables to what the binaries accept).

/// The cells of each row of the first table under the heading `heading`
/// of `docs/NAME`, header and separator left out, each cell trimmed.
pub fn table(name: &str, heading: &str) -> Vec<Vec<String>> {
    let path = crate::workspace_root().join("docs").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    let after = text
        .split_once(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("docs/{name} has no heading {heading:?}"))
        .1;
    let rows: Vec<Vec<String>> = after
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
