//! Operation digests (`op-digest`), computed exactly as Pacemaker 2.1.5 does
//! so that imported status histories compare equal.
//!
//! The parameters are filtered (all `CRM_meta_*` dropped except the timeout
//! of recurring operations, plus a few bookkeeping names), sorted by name,
//! serialised as ` <parameters a="1" b="2"/>\n` with Pacemaker's escaping,
//! and hashed with MD5.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use md5::{Digest, Md5};

use crate::xml::{Element, XmlNode};

const FILTERED: &[&str] = &[
    "id",
    "crm_feature_set",
    "op-digest",
    "on_node",
    "on_node_uuid",
    "pcmk_external_ip",
];

/// Escapes a value like `crm_xml_escape`, including its quirk: escaping
/// stops after a pair of consecutive bytes with the high bit set.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text);
    out
}

/// [`xml_escape`] appending to `out` (digests write many values into one
/// text).
fn escape_into(out: &mut String, text: &str) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let next = bytes.get(i + 1).copied().unwrap_or(0);
        if b & 0x80 != 0 && next & 0x80 != 0 {
            // Copy the rest verbatim (lossy only if it is not UTF-8, which
            // cannot happen for a &str suffix starting at a lead byte pair).
            out.push_str(&String::from_utf8_lossy(&bytes[i..]));
            return;
        }
        match b {
            b'<' => out.push_str("&lt;"),
            b'>' => out.push_str("&gt;"),
            b'"' => out.push_str("&quot;"),
            b'\'' => out.push_str("&apos;"),
            b'&' => out.push_str("&amp;"),
            b'\t' => out.push_str("    "),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b' '..=b'~' => out.push(b as char),
            _ => {
                // C `char` is signed: high bytes print sign-extended.
                let v = (b as i8) as i32 as u32;
                let _ = write!(out, "\\{v:03o}");
            }
        }
        i += 1;
    }
}

/// The exact text Pacemaker hashes for a (filtered, sorted) parameter set.
pub fn digest_text<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let sorted: BTreeMap<&str, &str> = params.into_iter().collect();
    let mut s = String::with_capacity(64 + sorted.iter().map(|(k, v)| k.len() + v.len() + 4).sum::<usize>());
    s.push_str(" <parameters");
    for (k, v) in &sorted {
        s.push(' ');
        s.push_str(k);
        s.push_str("=\"");
        escape_into(&mut s, v);
        s.push('"');
    }
    s.push_str("/>\n");
    s
}

/// MD5 of `text` as 32 lowercase hex digits.
pub fn md5_hex(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let d = Md5::digest(text.as_bytes());
    let mut s = String::with_capacity(32);
    for b in d {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 0xf)] as char);
    }
    s
}

/// Applies Pacemaker's digest filter to a full parameter set (resource
/// parameters, op parameters and `CRM_meta_*` action meta).
pub fn filter_for_digest(params: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    filtered(params)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// [`filter_for_digest`] borrowing from `params`.
fn filtered(params: &BTreeMap<String, String>) -> BTreeMap<&str, &str> {
    let interval: u64 = params
        .get("CRM_meta_interval")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut out = kept(params);
    if interval != 0 {
        if let Some(t) = params.get("CRM_meta_timeout") {
            out.insert("CRM_meta_timeout", t);
        }
    }
    out
}

/// The parameters the digest filter keeps whatever the interval: no
/// `CRM_meta_*`, no bookkeeping names.
fn kept(params: &BTreeMap<String, String>) -> BTreeMap<&str, &str> {
    params
        .iter()
        .filter(|(k, _)| !k.starts_with("CRM_meta_") && !FILTERED.contains(&k.as_str()))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// The `op-digest` of an operation run with `attributes` (parameters and
/// `CRM_meta_*` as a transition graph gives them), filtered as the
/// scheduler filters its expectation.
pub fn attributes_digest(attributes: &BTreeMap<String, String>) -> String {
    md5_hex(&digest_text(filtered(attributes)))
}

/// The `op-digest` of an operation: `params` are the resource's evaluated
/// instance attributes plus the op's own instance attributes; for a
/// recurring operation (`interval_ms > 0`) the timeout in ms is included.
pub fn operation_digest(params: &BTreeMap<String, String>, interval_ms: u64, timeout_ms: u64) -> String {
    // As filtering `params` with the interval and timeout added: every
    // `CRM_meta_*` goes but the timeout of a recurring operation.
    let timeout = timeout_ms.to_string();
    let mut kept = kept(params);
    if interval_ms != 0 {
        kept.insert("CRM_meta_timeout", &timeout);
    }
    md5_hex(&digest_text(kept))
}

/// Pacemaker's `pcmk_stonith_param`: fencer-only device parameters.
pub fn is_stonith_param(name: &str) -> bool {
    if matches!(name, "provides" | "stonith-timeout") {
        return true;
    }
    let Some(rest) = name.strip_prefix("pcmk_") else {
        return false;
    };
    if matches!(
        name,
        "pcmk_action_limit"
            | "pcmk_delay_base"
            | "pcmk_delay_max"
            | "pcmk_host_argument"
            | "pcmk_host_check"
            | "pcmk_host_list"
            | "pcmk_host_map"
    ) {
        return true;
    }
    match rest.find('_') {
        Some(i) => matches!(&rest[i..], "_action" | "_timeout" | "_retries"),
        None => false,
    }
}

/// The `op-secure-digest` (parameters without the private ones), as
/// `calculate_secure_digest` computes it for the recorded feature set.
pub fn secure_digest(
    params: &BTreeMap<String, String>,
    secure_list: &str,
    old_version: bool,
    fence_class: bool,
    interval_ms: u64,
    timeout_ms: u64,
) -> String {
    let private: Vec<&str> = secure_list.split_whitespace().collect();
    let timeout = timeout_ms.to_string();
    let mut kept = kept(params);
    let fencer_only = |k: &str| old_version && fence_class && is_stonith_param(k);
    kept.retain(|k, _| !private.contains(k) && !fencer_only(k));
    // The recorded feature set before 3.16.0 left the timeout out.
    if interval_ms != 0 && !old_version {
        kept.insert("CRM_meta_timeout", &timeout);
    }
    md5_hex(&digest_text(kept))
}

/// Attributes left out of CIB digests (`pcmk__xa_filterable`): bookkeeping
/// that differs between nodes without the content differing.
pub const CIB_DIGEST_FILTERED: &[&str] = &[
    "crm-debug-origin",
    "cib-last-written",
    "update-origin",
    "update-client",
    "update-user",
];

/// `pcmk__xml2text` without formatting: one line, attributes escaped like
/// `crm_xml_escape`, comments kept, text content left out; `filtered`
/// drops [`CIB_DIGEST_FILTERED`] attributes.
pub fn xml_text(e: &Element, filtered: bool) -> String {
    let mut out = String::new();
    write_xml_text(e, filtered, &mut out);
    out
}

fn write_xml_text(e: &Element, filtered: bool, out: &mut String) {
    out.push('<');
    out.push_str(&e.name);
    for (k, v) in &e.attrs {
        if filtered && CIB_DIGEST_FILTERED.contains(&k.as_str()) {
            continue;
        }
        let _ = write!(out, " {k}=\"{}\"", xml_escape(v));
    }
    // Pacemaker parses without blank text nodes; an element is empty when
    // it has no other child.
    let has_children = e
        .children
        .iter()
        .any(|c| !matches!(c, XmlNode::Text(t) if t.trim().is_empty()));
    if !has_children {
        out.push_str("/>");
        return;
    }
    out.push('>');
    for c in &e.children {
        match c {
            XmlNode::Element(child) => write_xml_text(child, filtered, out),
            XmlNode::Comment(t) => {
                let _ = write!(out, "<!--{t}-->");
            }
            XmlNode::Text(_) => {}
        }
    }
    let _ = write!(out, "</{}>", e.name);
}

/// The CIB digest Pacemaker puts in a patchset (`digest` attribute of
/// `<diff>`) and checks after applying one: `calculate_xml_versioned_digest`
/// with filtering, which for a feature set of 3.0.5 or later (`version`) is
/// the v2 digest (MD5 of the filtered one-line text) and otherwise the v1
/// digest (MD5 of a space, the unfiltered text and a newline).
pub fn cib_digest(e: &Element, version: Option<&str>) -> String {
    let v2 = version.is_some_and(|v| compare_feature_sets("3.0.5", v) != std::cmp::Ordering::Greater);
    if v2 {
        md5_hex(&xml_text(e, true))
    } else {
        on_disk_digest(e)
    }
}

/// The digest of `cib.xml.sig` (`calculate_on_disk_digest`): MD5 of a
/// space, the unsorted, unfiltered one-line text and a newline.
pub fn on_disk_digest(e: &Element) -> String {
    md5_hex(&format!(" {}\n", xml_text(e, false)))
}

/// `compare_version`: dotted feature sets compared field by field as
/// integers, a missing field counting as 0.
pub fn compare_feature_sets(a: &str, b: &str) -> std::cmp::Ordering {
    let fields = |s: &str| -> Vec<i64> { s.split('.').map(|f| f.trim().parse().unwrap_or(0)).collect() };
    let (a, b) = (fields(a), fields(b));
    (0..a.len().max(b.len()))
        .map(|i| a.get(i).unwrap_or(&0).cmp(b.get(i).unwrap_or(&0)))
        .find(|o| o.is_ne())
        .unwrap_or(std::cmp::Ordering::Equal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn compat_doc_examples() {
        assert_eq!(
            operation_digest(&p(&[("pcmk_host_list", "node1 node2")]), 0, 30000),
            "d33b88759c5a41c159da3e652394b854"
        );
        assert_eq!(
            operation_digest(&p(&[("ip", "192.0.2.10")]), 0, 30000),
            "00b33024faa29667a75591f76303da03"
        );
        assert_eq!(
            operation_digest(&p(&[("ip", "192.0.2.10")]), 10000, 30000),
            "3b48e532789828939f58b5fb229c1315"
        );
        assert_eq!(operation_digest(&p(&[]), 0, 30000), "f2317cad3d54cec5d7d7aa7d0bf35cf8");
        assert_eq!(
            operation_digest(&p(&[]), 10000, 30000),
            "02a5bcf940fc8d3239701acb11438d6a"
        );
    }

    /// The digests skip building the filtered set; they must hash what
    /// filtering the parameters with the interval and timeout added gives.
    #[test]
    fn digests_equal_filtering_the_whole_set() {
        let params = p(&[
            ("ip", "192.0.2.10"),
            ("CRM_meta_timeout", "5"),
            ("CRM_meta_interval", "7"),
            ("CRM_meta_notify", "true"),
            ("on_node", "n1"),
            ("passwd", "x<y"),
            ("pcmk_host_list", "n1"),
        ]);
        for interval in [0, 10_000] {
            let mut all = params.clone();
            all.insert("CRM_meta_interval".into(), interval.to_string());
            all.insert("CRM_meta_timeout".into(), "30000".into());
            let filtered = filter_for_digest(&all);
            let text = digest_text(filtered.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            assert_eq!(operation_digest(&params, interval, 30000), md5_hex(&text));
            assert_eq!(attributes_digest(&all), md5_hex(&text));
            for old in [false, true] {
                let mut secure = filtered.clone();
                secure.remove("passwd");
                if old {
                    secure.remove("pcmk_host_list");
                    secure.remove("CRM_meta_timeout");
                }
                let text = digest_text(secure.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                assert_eq!(
                    secure_digest(&params, "passwd", old, true, interval, 30000),
                    md5_hex(&text)
                );
            }
        }
    }

    #[test]
    fn escaping() {
        assert_eq!(xml_escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
        assert_eq!(xml_escape("x\ty\nz"), "x    y\\nz");
        assert_eq!(xml_escape("\u{1}"), "\\001");
        // Two high-bit bytes: escaping stops, text copied verbatim.
        assert_eq!(xml_escape("é<"), "é<");
    }

    #[test]
    fn cib_text_filters_bookkeeping_and_skips_blank_text() {
        let e = Element::parse(
            "<cib epoch=\"1\" cib-last-written=\"x\">\n  <configuration a=\"&lt;\"/>\n  <!-- c -->\n  <status/>\n</cib>",
        )
        .unwrap();
        assert_eq!(
            xml_text(&e, true),
            "<cib epoch=\"1\"><configuration a=\"&lt;\"/><!-- c --><status/></cib>"
        );
        assert!(xml_text(&e, false).contains("cib-last-written=\"x\""));
        assert_eq!(cib_digest(&e, Some("3.16.1")), md5_hex(&xml_text(&e, true)));
        assert_eq!(cib_digest(&e, Some("3.0.1")), on_disk_digest(&e));
        assert_eq!(cib_digest(&e, None), on_disk_digest(&e));
    }

    #[test]
    fn feature_set_comparison() {
        use std::cmp::Ordering::*;
        assert_eq!(compare_feature_sets("3.0.5", "3.16.1"), Less);
        assert_eq!(compare_feature_sets("3.0.5", "3.0.5"), Equal);
        assert_eq!(compare_feature_sets("3.0.5", "3.0"), Greater);
        assert_eq!(compare_feature_sets("3.0.10", "3.0.9"), Greater);
        assert_eq!(compare_feature_sets("3.0.0", "3.0"), Equal);
    }

    #[test]
    fn empty_set_text() {
        assert_eq!(digest_text(std::iter::empty()), " <parameters/>\n");
    }
}
