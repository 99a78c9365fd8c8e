//! The corosync.conf syntax (`exec/coroparse.c`): `name {` opens a section, `}` closes it,
//! `key: value` sets a key, lines whose first non-blank character is `#` are comments.
//! The result is a flat list of icmap-style entries, each with the line it came from, so
//! every later check can point at `file:line`.

use super::ConfError;

/// One `key: value` line, with its full dotted path as corosync's icmap would name it
/// (`totem.token`, `nodelist.node.0.ring0_addr`, `totem.interface.0.mcastport`, …).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Section names from the top, e.g. `["nodelist", "node"]` (without indices).
    pub sections: Vec<String>,
    /// The index of each repeated section (`node`, `interface`, `logger_subsys`) in `sections`, if any.
    pub index: Option<usize>,
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// Parses `text`; `file` only names the source in errors.
pub fn parse(file: &str, text: &str) -> Result<Vec<Entry>, ConfError> {
    let mut stack: Vec<(String, usize)> = Vec::new();
    // Counters for repeated sections, keyed by their path.
    let mut repeat_count: std::collections::HashMap<String, usize> = Default::default();
    let mut current_index: Vec<Option<usize>> = Vec::new();
    let mut entries = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line_no = n + 1;
        let err = |message: String| ConfError::Syntax {
            file: file.to_owned(),
            line: line_no,
            message,
        };
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_suffix('{') {
            let name = name.trim();
            if name.is_empty() || name.contains(char::is_whitespace) || name.contains(':') {
                return Err(err(format!("invalid section name {name:?}")));
            }
            if stack.len() >= 8 {
                return Err(err("sections nested too deep".into()));
            }
            let path: Vec<&str> = stack.iter().map(|(s, _)| s.as_str()).chain([name]).collect();
            let path = path.join(".");
            let index = if is_repeated(&path) {
                let c = repeat_count.entry(path).or_insert(0);
                *c += 1;
                Some(*c - 1)
            } else {
                None
            };
            stack.push((name.to_owned(), line_no));
            current_index.push(index);
            continue;
        }
        if line == "}" {
            if stack.pop().is_none() {
                return Err(err("unexpected closing brace".into()));
            }
            current_index.pop();
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err(err(format!("expected `key: value`, `name {{` or `}}`, found {line:?}")));
        };
        let key = key.trim();
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(err(format!("invalid key {key:?}")));
        }
        let mut value = value.trim();
        if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
            value = &value[1..value.len() - 1];
        }
        if stack.is_empty() {
            return Err(err(format!("key {key:?} outside of any section")));
        }
        entries.push(Entry {
            sections: stack.iter().map(|(s, _)| s.clone()).collect(),
            index: current_index.iter().rev().find_map(|i| *i),
            key: key.to_owned(),
            value: value.to_owned(),
            line: line_no,
        });
    }
    if let Some((name, line)) = stack.pop() {
        return Err(ConfError::Syntax {
            file: file.to_owned(),
            line,
            message: format!("missing closing brace for section {name:?}"),
        });
    }
    Ok(entries)
}

/// Sections that may appear several times and are numbered in icmap.
fn is_repeated(path: &str) -> bool {
    matches!(path, "nodelist.node" | "totem.interface" | "logging.logger_subsys")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_sections_and_indexes_repeats() {
        let text = "# c\ntotem {\n version: 2\n interface {\n  mcastport: 5405\n }\n}\nnodelist {\n node {\n  nodeid: 1\n }\n node {\n  nodeid: 2\n }\n}\n";
        let e = parse("f", text).unwrap();
        assert_eq!(e.len(), 4);
        assert_eq!(e[0].sections, ["totem"]);
        assert_eq!((e[0].key.as_str(), e[0].value.as_str(), e[0].line), ("version", "2", 3));
        assert_eq!(e[1].sections, ["totem", "interface"]);
        assert_eq!(e[1].index, Some(0));
        assert_eq!(e[3].index, Some(1));
        assert_eq!(e[3].value, "2");
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let e = parse("c.conf", "totem {\n version 2\n}\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "c.conf:2: expected `key: value`, `name {` or `}`, found \"version 2\""
        );
        let e = parse("c.conf", "totem {\n version: 2\n").unwrap_err();
        assert!(e.to_string().starts_with("c.conf:1: missing closing brace"), "{e}");
        let e = parse("c.conf", "}\n").unwrap_err();
        assert!(e.to_string().contains("c.conf:1: unexpected closing brace"));
        let e = parse("c.conf", "token: 3\n").unwrap_err();
        assert!(e.to_string().contains("outside of any section"));
    }
}
