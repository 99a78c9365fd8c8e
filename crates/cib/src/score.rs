//! Pacemaker score arithmetic (`lib/common/scores.c` semantics).

/// Pacemaker's INFINITY.
pub const INFINITY: i32 = 1_000_000;

/// A bounded score in `-INFINITY ..= INFINITY`.
pub type Score = i32;

/// Parses a score string. Returns `None` for text that is not a score.
///
/// Accepts `INFINITY`, `+INFINITY`, `-INFINITY` (case-insensitive), the node
/// health colours (`red` = -INFINITY, `yellow`/`green` = 0), and integers,
/// which are clamped to ±INFINITY.
pub fn parse_score(s: &str) -> Option<Score> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("INFINITY") || t.eq_ignore_ascii_case("+INFINITY") {
        return Some(INFINITY);
    }
    if t.eq_ignore_ascii_case("-INFINITY") || t.eq_ignore_ascii_case("red") {
        return Some(-INFINITY);
    }
    if t.eq_ignore_ascii_case("yellow") || t.eq_ignore_ascii_case("green") {
        return Some(0);
    }
    let v: i128 = t.parse().ok()?;
    Some(v.clamp(-(INFINITY as i128), INFINITY as i128) as Score)
}

/// `char2score` for values no schema checks (meta-attributes such as
/// `priority`): a score where [`parse_score`] finds one, else the leading
/// integer (`strtoll`: "1.0" is 1), else 0.
pub fn lenient_score(s: &str) -> Score {
    parse_score(s).unwrap_or_else(|| {
        let t = s.trim();
        let sign_len = usize::from(t.starts_with(['+', '-']));
        let digits = t[sign_len..]
            .find(|c: char| !c.is_ascii_digit())
            .map_or(t.len(), |i| i + sign_len);
        parse_score(&t[..digits]).unwrap_or(0)
    })
}

/// Adds two scores: -INFINITY wins over everything, then +INFINITY,
/// otherwise the sum is clamped.
pub fn add(a: Score, b: Score) -> Score {
    if a <= -INFINITY || b <= -INFINITY {
        -INFINITY
    } else if a >= INFINITY || b >= INFINITY {
        INFINITY
    } else {
        (a + b).clamp(-INFINITY, INFINITY)
    }
}

/// Renders a score like Pacemaker (`INFINITY`, `-INFINITY`, or the number).
pub fn to_text(s: Score) -> String {
    if s >= INFINITY {
        "INFINITY".to_string()
    } else if s <= -INFINITY {
        "-INFINITY".to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_scores_take_the_leading_integer() {
        assert_eq!(lenient_score("1.0"), 1);
        assert_eq!(lenient_score("-20abc"), -20);
        assert_eq!(lenient_score("INFINITY"), INFINITY);
        assert_eq!(lenient_score("abc"), 0);
    }

    #[test]
    fn parse() {
        assert_eq!(parse_score("INFINITY"), Some(INFINITY));
        assert_eq!(parse_score("+infinity"), Some(INFINITY));
        assert_eq!(parse_score("-INFINITY"), Some(-INFINITY));
        assert_eq!(parse_score("12"), Some(12));
        assert_eq!(parse_score("-3"), Some(-3));
        assert_eq!(parse_score("99999999"), Some(INFINITY));
        assert_eq!(parse_score("abc"), None);
        assert_eq!(parse_score("red"), Some(-INFINITY));
    }

    #[test]
    fn addition() {
        assert_eq!(add(-INFINITY, INFINITY), -INFINITY);
        assert_eq!(add(INFINITY, -INFINITY), -INFINITY);
        assert_eq!(add(INFINITY, 5), INFINITY);
        assert_eq!(add(999_999, 5), INFINITY);
        assert_eq!(add(-999_999, -5), -INFINITY);
        assert_eq!(add(3, 4), 7);
        assert_eq!(to_text(add(INFINITY, 1)), "INFINITY");
    }
}
