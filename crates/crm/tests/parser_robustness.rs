//! The CIB parser and the scheduler never panic on malformed input:
//! arbitrary bytes, truncated documents and mutated attributes give either
//! a result or a clear error.

use cib::{Cib, CibError};
use proptest::prelude::*;
use scheduler::Options;

const SAMPLE: &str = include_str!("data/two-node.xml");

fn parse_and_schedule(text: &str) {
    if let Ok(cib) = Cib::parse(text) {
        let _ = crm::simulate::simulate(&cib, &Options::for_cib(&cib, None, || 0)).report();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_does_not_panic(s in ".{0,400}") {
        parse_and_schedule(&s);
    }

    #[test]
    // Cuts end before the closing `</cib>` is complete: the newline after it is not part
    // of the document (cutting only that left a valid CIB, failing about 1 run in 25).
    fn truncated_cib_is_an_error(cut in 0usize..SAMPLE.trim_end().len()) {
        let mut cut = cut;
        while !SAMPLE.is_char_boundary(cut) {
            cut -= 1;
        }
        let text = &SAMPLE[..cut];
        // Any strict prefix of the document misses its closing tag.
        prop_assert!(Cib::parse(text).is_err());
    }

    #[test]
    fn mutated_attribute_values_do_not_panic(
        pos in 0usize..SAMPLE.len(),
        junk in "[a-zA-Z0-9<>&\"' :#_-]{0,12}",
    ) {
        // Replace the attribute value following `pos`, if any.
        let rest = &SAMPLE[pos..];
        if let Some(q) = rest.find("=\"") {
            let start = pos + q + 2;
            if let Some(len) = SAMPLE[start..].find('"') {
                let escaped = junk.replace('&', "&amp;").replace('<', "&lt;").replace('"', "&quot;");
                let text = format!("{}{}{}", &SAMPLE[..start], escaped, &SAMPLE[start + len..]);
                parse_and_schedule(&text);
            }
        }
    }

    #[test]
    fn deleted_spans_do_not_panic(a in 0usize..SAMPLE.len(), len in 0usize..200) {
        let mut a = a;
        while !SAMPLE.is_char_boundary(a) {
            a -= 1;
        }
        let mut b = (a + len).min(SAMPLE.len());
        while !SAMPLE.is_char_boundary(b) {
            b -= 1;
        }
        let text = format!("{}{}", &SAMPLE[..a], &SAMPLE[b..]);
        parse_and_schedule(&text);
    }
}

#[test]
fn bad_score_names_element_and_attribute() {
    let text = SAMPLE.replace("score=\"50\"", "score=\"lots\"");
    assert_ne!(text, SAMPLE, "sample must contain a score to corrupt");
    let err = Cib::parse(&text).unwrap_err();
    assert!(matches!(err, CibError::Attribute { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("rsc_location") && msg.contains("score") && msg.contains("lots"),
        "{msg}"
    );
}

#[test]
fn truncated_xml_reports_syntax_error() {
    let err = Cib::parse(&SAMPLE[..SAMPLE.len() / 2]).unwrap_err();
    assert!(matches!(err, CibError::Xml(_)), "{err}");
}

#[test]
fn missing_required_attribute_is_named() {
    let text = SAMPLE.replacen("type=\"IPaddr2\"", "", 1);
    let msg = Cib::parse(&text).unwrap_err().to_string();
    assert!(msg.contains("primitive") && msg.contains("'type'"), "{msg}");
}

#[test]
fn unknown_resource_reference_is_reported() {
    let text = SAMPLE.replace("rsc=\"web\" node=\"node1\"", "rsc=\"nosuch\" node=\"node1\"");
    assert_ne!(text, SAMPLE, "sample must contain the location to corrupt");
    let cib = Cib::parse(&text).expect("still well-formed");
    let errs = cib.dangling_references();
    assert_eq!(errs.len(), 1, "{errs:?}");
    let msg = errs[0].to_string();
    assert!(
        msg.contains("rsc_location") && msg.contains("'rsc'") && msg.contains("nosuch"),
        "{msg}"
    );
    let clean = Cib::parse(SAMPLE).expect("reference CIB parses");
    assert!(clean.dangling_references().is_empty());
}
