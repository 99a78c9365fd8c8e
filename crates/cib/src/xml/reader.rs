//! A single-pass reader from XML text straight into [`Element`] trees, for
//! the documents ferrosync itself reads and writes: elements, attributes,
//! text, comments and the five predefined entities plus character
//! references, in UTF-8, with an optional `<?xml …?>` declaration.
//!
//! It builds no intermediate document (parsing with `roxmltree` and then
//! copying into `Element` costs twice the allocations) and leaves out
//! whitespace-only text, as Pacemaker parses a CIB. Anything beyond that
//! subset — a DTD, CDATA sections, namespaces, processing instructions
//! other than the declaration, carriage returns, a byte-order mark — and any
//! syntax error make [`read`] return `None`: the caller then parses with
//! `roxmltree`, which handles the rest of XML 1.0 and words the error. So
//! what this reader accepts it reads exactly as `roxmltree` does, and it
//! never accepts what `roxmltree` refuses.

use super::{CompactString, Element, XmlNode};

/// Reads a whole document; `None` when the text is outside the subset
/// above or is not well-formed.
pub(super) fn read(text: &str) -> Option<Element> {
    let mut r = Reader {
        s: text,
        b: text.as_bytes(),
        pos: 0,
        attrs: Vec::new(),
    };
    r.declaration()?;
    r.misc()?;
    let root = r.element_tree()?;
    r.misc()?;
    (r.pos == r.b.len()).then_some(root)
}

struct Reader<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
    /// The attributes of the tag being read (scratch).
    attrs: Vec<(CompactString, CompactString)>,
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.')
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n')
}

/// Whether `c` (decoded from a character reference) is an XML 1.0 `Char`.
fn is_xml_char(c: u32) -> bool {
    matches!(c, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

impl<'a> Reader<'a> {
    /// `= "value"` (or single quotes, spaces allowed around `=`) after an attribute
    /// name: the value as written.
    fn quoted_value(&mut self) -> Option<&'a str> {
        self.skip_space();
        if self.peek()? != b'=' {
            return None;
        }
        self.pos += 1;
        self.skip_space();
        let q = self.peek().filter(|&c| c == b'"' || c == b'\'')?;
        let start = self.pos + 1;
        let len = self.b[start..].iter().position(|&c| c == q)?;
        self.pos = start + len + 1;
        Some(&self.s[start..start + len])
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn starts_with(&self, p: &str) -> bool {
        self.b[self.pos..].starts_with(p.as_bytes())
    }

    fn skip_space(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(is_space) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` at the very
    /// start (each part after `version` optional).
    fn declaration(&mut self) -> Option<()> {
        if !self.starts_with("<?xml") {
            return Some(());
        }
        self.pos += 5;
        let mut expected: &[&str] = &["version", "encoding", "standalone"];
        let mut first = true;
        loop {
            let spaced = self.skip_space();
            if self.starts_with("?>") {
                self.pos += 2;
                return (!first).then_some(());
            }
            if !spaced {
                return None;
            }
            let name = self.name()?;
            let at = expected.iter().position(|&n| n == name)?;
            if first && at != 0 {
                return None;
            }
            expected = &expected[at + 1..];
            first = false;
            let value = self.quoted_value()?;
            let ok = match name {
                "version" => value == "1.0",
                "encoding" => value.eq_ignore_ascii_case("utf-8"),
                _ => value == "yes" || value == "no",
            };
            if !ok {
                return None;
            }
        }
    }

    /// Whitespace and comments outside the root element.
    fn misc(&mut self) -> Option<()> {
        loop {
            self.skip_space();
            if self.starts_with("<!--") {
                self.comment()?;
            } else {
                return Some(());
            }
        }
    }

    /// A comment's text, the reader past its `-->`.
    fn comment(&mut self) -> Option<String> {
        let start = self.pos + 4;
        let len = memfind(&self.b[start..], b"--")?;
        if self.b.get(start + len + 2) != Some(&b'>') {
            return None;
        }
        let body = &self.s[start..start + len];
        check_chars(body.as_bytes())?;
        self.pos = start + len + 3;
        Some(body.to_string())
    }

    /// An ASCII name without a namespace prefix.
    fn name(&mut self) -> Option<&'a str> {
        let start = self.pos;
        if !self.peek().is_some_and(is_name_start) {
            return None;
        }
        self.pos += 1;
        while self.peek().is_some_and(is_name_char) {
            self.pos += 1;
        }
        Some(&self.s[start..self.pos])
    }

    /// The root element and everything in it, with an explicit stack. The
    /// children of the open elements wait in one scratch vector and move
    /// into an exactly sized one when their element closes (no regrowing).
    fn element_tree(&mut self) -> Option<Element> {
        let mut stack: Vec<(Element, usize)> = Vec::new();
        let mut nodes: Vec<XmlNode> = Vec::new();
        if self.peek()? != b'<' {
            return None;
        }
        loop {
            // At '<' of a start tag.
            self.pos += 1;
            let (e, empty) = self.start_tag()?;
            if empty {
                if stack.is_empty() {
                    return Some(e);
                }
                nodes.push(XmlNode::Element(e));
            } else {
                stack.push((e, nodes.len()));
            }
            // Content until the next start tag (or the end of the root).
            loop {
                let text_start = self.pos;
                let lt = self.b[self.pos..].iter().position(|&c| c == b'<')?;
                self.pos += lt;
                if lt > 0 {
                    let raw = &self.s[text_start..self.pos];
                    let text = decode_text(raw)?;
                    if !text.trim().is_empty() {
                        nodes.push(XmlNode::Text(text));
                    }
                }
                match self.b.get(self.pos + 1)? {
                    b'/' => {
                        self.pos += 2;
                        let name = self.name()?;
                        self.skip_space();
                        if self.peek()? != b'>' {
                            return None;
                        }
                        self.pos += 1;
                        let (mut done, first) = stack.pop()?;
                        if done.name != name {
                            return None;
                        }
                        done.children = nodes.drain(first..).collect();
                        if stack.is_empty() {
                            return Some(done);
                        }
                        nodes.push(XmlNode::Element(done));
                    }
                    b'!' => {
                        if !self.starts_with("<!--") {
                            return None;
                        }
                        let c = self.comment()?;
                        nodes.push(XmlNode::Comment(c));
                    }
                    _ => break,
                }
            }
        }
    }

    /// After '<': the name and attributes; `true` when the tag is `/>`.
    fn start_tag(&mut self) -> Option<(Element, bool)> {
        let name = self.name()?;
        self.attrs.clear();
        loop {
            let spaced = self.skip_space();
            let empty = match self.peek()? {
                b'>' => Some(false),
                b'/' => {
                    if self.b.get(self.pos + 1) != Some(&b'>') {
                        return None;
                    }
                    Some(true)
                }
                _ => None,
            };
            if let Some(empty) = empty {
                self.pos += if empty { 2 } else { 1 };
                let e = Element {
                    name: name.into(),
                    // Exactly sized, moved from the scratch vector.
                    attrs: self.attrs.drain(..).collect(),
                    children: Vec::new(),
                };
                return Some((e, empty));
            }
            if !spaced {
                return None;
            }
            let attr = self.name()?;
            if attr == "xmlns" || self.attrs.iter().any(|(k, _)| k == attr) {
                return None;
            }
            let value = decode_attr(self.quoted_value()?)?;
            self.attrs.push((attr.into(), value));
        }
    }
}

fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Refuses control characters other than tab and newline (carriage returns
/// need end-of-line handling, left to roxmltree) and U+FFFE/U+FFFF.
fn check_chars(b: &[u8]) -> Option<()> {
    for (i, &c) in b.iter().enumerate() {
        if (c < 0x20 && c != b'\t' && c != b'\n')
            || (c == 0xEF && b.get(i + 1) == Some(&0xBF) && matches!(b.get(i + 2), Some(0xBE | 0xBF)))
        {
            return None;
        }
    }
    Some(())
}

/// Text content: entities decoded; `]]>` is not allowed.
fn decode_text(raw: &str) -> Option<String> {
    check_chars(raw.as_bytes())?;
    if memfind(raw.as_bytes(), b"]]>").is_some() {
        return None;
    }
    if !raw.contains('&') {
        return Some(raw.to_string());
    }
    decode_entities(raw, false)
}

/// An attribute value: entities decoded, literal tabs and newlines turned
/// into spaces (attribute-value normalisation); `<` is not allowed.
fn decode_attr(raw: &str) -> Option<CompactString> {
    let b = raw.as_bytes();
    check_chars(b)?;
    if b.contains(&b'<') {
        return None;
    }
    if !b.iter().any(|&c| matches!(c, b'&' | b'\t' | b'\n')) {
        return Some(raw.into());
    }
    decode_entities(raw, true).map(CompactString::from)
}

fn decode_entities(raw: &str, attr: bool) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find(['&', '\t', '\n']) {
        out.push_str(&rest[..i]);
        let c = rest.as_bytes()[i];
        if c != b'&' {
            out.push(if attr { ' ' } else { c as char });
            rest = &rest[i + 1..];
            continue;
        }
        let after = &rest[i + 1..];
        let end = after.find(';')?;
        let name = &after[..end];
        let ch = match name {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "apos" => '\'',
            "quot" => '"',
            _ => {
                let code = if let Some(hex) = name.strip_prefix("#x") {
                    if hex.is_empty() || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                        return None;
                    }
                    u32::from_str_radix(hex, 16).ok()?
                } else if let Some(dec) = name.strip_prefix('#') {
                    if dec.is_empty() || !dec.bytes().all(|c| c.is_ascii_digit()) {
                        return None;
                    }
                    dec.parse().ok()?
                } else {
                    return None;
                };
                if !is_xml_char(code) {
                    return None;
                }
                char::from_u32(code)?
            }
        };
        out.push(ch);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}
