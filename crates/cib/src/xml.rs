//! A small owned XML tree: read straight from the text (see [`reader`]; with
//! `roxmltree` for the rest of XML), written back without losing elements,
//! attribute order, comments or text we do not interpret. Whitespace-only
//! text is left out, as Pacemaker parses a CIB (and as digests, patchset
//! positions and the writer already ignored it).

use std::fmt::Write as _;

pub use compact_str::CompactString;

mod reader;

/// A node inside an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmlNode {
    Element(Element),
    Text(String),
    Comment(String),
}

/// An element with its attributes (document order) and children. Names
/// and values are stored inline up to 24 bytes: reading a CIB then
/// allocates little beyond the vectors.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub name: CompactString,
    pub attrs: Vec<(CompactString, CompactString)>,
    pub children: Vec<XmlNode>,
}

/// The XML text could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("XML syntax error: {0}")]
pub struct XmlError(String);

impl Element {
    pub fn new(name: impl Into<CompactString>) -> Self {
        Element {
            name: name.into(),
            ..Default::default()
        }
    }

    /// Value of attribute `name`, if present.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Sets (or replaces) an attribute, keeping its position if present.
    pub fn set_attr(&mut self, name: &str, value: impl Into<CompactString>) {
        let value = value.into();
        if let Some(slot) = self.attrs.iter_mut().find(|(k, _)| k == name) {
            slot.1 = value;
        } else {
            self.attrs.push((name.into(), value));
        }
    }

    pub fn remove_attr(&mut self, name: &str) {
        self.attrs.retain(|(k, _)| k != name);
    }

    /// Child elements in document order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|c| match c {
            XmlNode::Element(e) => Some(e),
            _ => None,
        })
    }

    pub fn elements_mut(&mut self) -> impl Iterator<Item = &mut Element> {
        self.children.iter_mut().filter_map(|c| match c {
            XmlNode::Element(e) => Some(e),
            _ => None,
        })
    }

    /// First child element called `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.name == name)
    }

    pub fn child_mut(&mut self, name: &str) -> Option<&mut Element> {
        self.elements_mut().find(|e| e.name == name)
    }

    /// Child elements called `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.elements().filter(move |e| e.name == name)
    }

    pub fn push(&mut self, e: Element) {
        self.children.push(XmlNode::Element(e));
    }

    /// Parses a whole document and returns its root element.
    pub fn parse(text: &str) -> Result<Element, XmlError> {
        match reader::read(text) {
            Some(root) => Ok(root),
            None => Element::parse_general(text),
        }
    }

    /// Parses with `roxmltree`: DTDs, namespaces, CDATA and the rest of XML
    /// that [`reader`] leaves out, and the wording of syntax errors.
    fn parse_general(text: &str) -> Result<Element, XmlError> {
        let opts = roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        };
        let doc = roxmltree::Document::parse_with_options(text, opts).map_err(|e| XmlError(e.to_string()))?;
        Ok(convert(doc.root_element()))
    }

    /// Serialises with two-space indentation (text-only content kept inline).
    pub fn to_xml_string(&self) -> String {
        let mut out = String::new();
        self.write_into(&mut out, 0);
        out
    }

    fn write_into(&self, out: &mut String, depth: usize) {
        let pad = "  ".repeat(depth);
        let _ = write!(out, "{pad}<{}", self.name);
        for (k, v) in &self.attrs {
            let _ = write!(out, " {k}=\"{}\"", escape_attr(v));
        }
        let has_elements = self
            .children
            .iter()
            .any(|c| matches!(c, XmlNode::Element(_) | XmlNode::Comment(_)));
        let texts: Vec<&str> = self
            .children
            .iter()
            .filter_map(|c| match c {
                XmlNode::Text(t) if !t.trim().is_empty() => Some(t.as_str()),
                _ => None,
            })
            .collect();
        if !has_elements && texts.is_empty() {
            out.push_str("/>\n");
            return;
        }
        if !has_elements {
            out.push('>');
            for t in texts {
                out.push_str(&escape_text(t));
            }
            let _ = writeln!(out, "</{}>", self.name);
            return;
        }
        out.push_str(">\n");
        for c in &self.children {
            match c {
                XmlNode::Element(e) => e.write_into(out, depth + 1),
                XmlNode::Comment(t) => {
                    let _ = writeln!(out, "{pad}  <!--{t}-->");
                }
                XmlNode::Text(t) if !t.trim().is_empty() => {
                    let _ = writeln!(out, "{pad}  {}", escape_text(t.trim()));
                }
                XmlNode::Text(_) => {}
            }
        }
        let _ = writeln!(out, "{pad}</{}>", self.name);
    }
}

fn convert(node: roxmltree::Node<'_, '_>) -> Element {
    let mut e = Element::new(node.tag_name().name());
    for a in node.attributes() {
        e.attrs.push((a.name().into(), a.value().into()));
    }
    for c in node.children() {
        if c.is_element() {
            e.children.push(XmlNode::Element(convert(c)));
        } else if c.is_text() {
            if let Some(t) = c.text().filter(|t| !t.trim().is_empty()) {
                e.children.push(XmlNode::Text(t.to_string()));
            }
        } else if c.is_comment() {
            if let Some(t) = c.text() {
                e.children.push(XmlNode::Comment(t.to_string()));
            }
        }
    }
    e
}

/// Escapes an attribute value for output.
pub fn escape_attr(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for ch in v.chars() {
        match ch {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\n' => s.push_str("&#10;"),
            '\t' => s.push_str("&#9;"),
            '\r' => s.push_str("&#13;"),
            c => s.push(c),
        }
    }
    s
}

fn escape_text(v: &str) -> String {
    v.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_unknown_elements_and_attr_order() {
        let src =
            r#"<cib b="2" a="1"><configuration><weird x="&lt;y&gt;"><inner/></weird><!-- c --></configuration></cib>"#;
        let e = Element::parse(src).unwrap();
        let out = e.to_xml_string();
        let again = Element::parse(&out).unwrap();
        assert_eq!(again.attrs[0].0, "b");
        let conf = again.child("configuration").unwrap();
        let weird = conf.child("weird").unwrap();
        assert_eq!(weird.attr("x"), Some("<y>"));
        assert!(weird.child("inner").is_some());
        assert!(out.contains("<!-- c -->"));
    }

    /// The reader agrees with roxmltree on what it accepts and hands
    /// everything else over.
    #[test]
    fn reader_agrees_with_roxmltree() {
        let read = [
            r#"<a/>"#,
            r#"<?xml version="1.0"?><a/>"#,
            "<?xml version='1.0' encoding='UTF-8' standalone='no' ?>\n<!-- c --> <a/> <!-- d -->\n",
            "<a b=\"1\" c = '2'  >\n  <b>text &amp; &lt;more&gt; &#65;&#x42;</b>\n  <!-- x - y -->\n</a>",
            "<a v=\"x\ty\nz &#10; &#9; &quot;q&quot; &apos;\" w='a\"b'/>",
            "<a>  <b/>  mixed  <c></c>\t</a >",
            "<a>&#32;&#x20;</a>",
            "<a_b-c.d e_f-g.h=\"&#x10FFFF;\u{e9}\">\u{263a}</a_b-c.d>",
            "<a>x > y ]] z</a>",
        ];
        for src in read {
            let fast = reader::read(src).unwrap_or_else(|| panic!("reader refused {src:?}"));
            let general = Element::parse_general(src).unwrap();
            assert_eq!(fast, general, "{src:?}");
        }
        let handed_over = [
            "",
            "<a>",
            "<a></b>",
            "<a/><b/>",
            "text<a/>",
            "<a/>text",
            "<a b=\"1\" b=\"2\"/>",
            "<a b=\"1\"c=\"2\"/>",
            "<a b=\"<\"/>",
            "<a b=1/>",
            "<a>&nbsp;</a>",
            "<a>&#0;</a>",
            "<a>&#xFFFE;</a>",
            "<a>& b</a>",
            "<a>]]></a>",
            "<a>\r\n</a>",
            "<a b=\"\r\"/>",
            "<a>\u{1}</a>",
            "<a><!-- a -- b --></a>",
            "<a><!-- a ---></a>",
            "<a><![CDATA[x]]></a>",
            "<a><?pi x?></a>",
            "<!DOCTYPE a [<!ENTITY e \"v\">]><a>&e;</a>",
            "<x:a xmlns:x=\"urn:x\"/>",
            "<a xmlns=\"urn:x\"/>",
            "<a xml:lang=\"en\"/>",
            "\u{feff}<a/>",
            "<?xml version=\"1.1\"?><a/>",
            "<?xml encoding=\"UTF-8\"?><a/>",
            "<?xml version=\"1.0\" encoding=\"latin1\"?><a/>",
            "<?xml-stylesheet href=\"s\"?><a/>",
            "<1a/>",
            "<a/ >",
        ];
        for src in handed_over {
            assert!(reader::read(src).is_none(), "reader accepted {src:?}");
            // Either roxmltree reads it (and parse() gives its tree) or the
            // error is roxmltree's.
            let _ = Element::parse(src);
        }
    }

    /// Every CIB of the conformance cases reads the same both ways.
    #[test]
    fn reader_agrees_on_the_conformance_cases() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/scheduler-cases/cases");
        let Ok(entries) = std::fs::read_dir(&dir) else { return };
        for entry in entries.flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            let fast = reader::read(&text);
            assert!(fast.is_some(), "{}", entry.path().display());
            assert!(fast == Element::parse_general(&text).ok(), "{}", entry.path().display());
        }
    }

    #[test]
    fn blank_text_is_left_out() {
        let e = Element::parse("<a>\n  <b> </b>\n  <c>x</c>\n</a>").unwrap();
        assert_eq!(e.children.len(), 2);
        assert!(e.child("b").unwrap().children.is_empty());
        assert_eq!(e.child("c").unwrap().children, vec![XmlNode::Text("x".into())]);
    }

    #[test]
    fn truncated_is_error() {
        assert!(Element::parse("<cib><configuration>").is_err());
        assert!(Element::parse("").is_err());
    }
}
