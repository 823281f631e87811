//! Shortest round-trip float formatting with ties to even.

/// Formats a float as the canonical dump does: the shortest decimal that
/// reads back as the same `f64`, in scientific form (`1.5e0`, `-0e0`,
/// `5e-324`), choosing the even last digit when two candidates are equally
/// near (Rust's `{:e}` rounds such exact ties up instead).
pub fn format_float(x: f64) -> String {
    if x.is_nan() {
        return "\"NaN\"".into();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            "\"Infinity\""
        } else {
            "\"-Infinity\""
        }
        .into();
    }
    let s = format!("{x:e}");
    fix_tie(x, &s).unwrap_or(s)
}

/// Splits `-d.ddde-x` into (negative, digits, exponent).
fn parts(s: &str) -> Option<(bool, String, i32)> {
    let (neg, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (mant, exp) = rest.split_once('e')?;
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    Some((neg, digits, exp.parse().ok()?))
}

fn render(neg: bool, digits: &str, exp: i32) -> String {
    let mut out = String::with_capacity(digits.len() + 8);
    if neg {
        out.push('-');
    }
    let trimmed = digits.trim_end_matches('0');
    let trimmed = if trimmed.is_empty() { "0" } else { trimmed };
    let (first, rest) = trimmed.split_at(1);
    out.push_str(first);
    if !rest.is_empty() {
        out.push('.');
        out.push_str(rest);
    }
    out.push('e');
    out.push_str(&exp.to_string());
    out
}

/// When `s` ends in an odd digit and the neighbouring even candidate also
/// reads back as `x`, decides by the exact binary value which is nearer.
fn fix_tie(x: f64, s: &str) -> Option<String> {
    let (neg, digits, exp) = parts(s)?;
    let last = digits.chars().last()?.to_digit(10)?;
    if last % 2 == 0 || digits.len() < 2 {
        return None;
    }
    // The exact decimal expansion of x (every f64 has a finite one).
    let exact = format!("{:.1100e}", x.abs());
    let (_, exact_digits, exact_exp) = parts(&exact)?;
    if exact_exp != exp {
        return None;
    }
    let exact_digits = exact_digits.trim_end_matches('0');
    let head = digits.get(..digits.len() - 1)?;
    for neighbour in [last.checked_sub(1), Some(last + 1).filter(|d| *d <= 9)] {
        let Some(d) = neighbour else { continue };
        let candidate = format!("{head}{d}");
        let text = render(neg, &candidate, exp);
        if text.parse::<f64>().ok()? != x {
            continue;
        }
        // The midpoint of the two candidates is the lower one followed by 5.
        let lower = if d < last { &candidate } else { &digits };
        let midpoint = format!("{lower}5");
        if exact_digits == midpoint {
            return Some(text);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_examples() {
        assert_eq!(format_float(0.0), "0e0");
        assert_eq!(format_float(-0.0), "-0e0");
        assert_eq!(format_float(1.0), "1e0");
        assert_eq!(format_float(-1.5), "-1.5e0");
        assert_eq!(format_float(0.1), "1e-1");
        assert_eq!(format_float(5e-324), "5e-324");
        assert_eq!(format_float(f64::MAX), "1.7976931348623157e308");
        assert_eq!(format_float(std::f64::consts::PI), "3.141592653589793e0");
    }

    #[test]
    fn exact_ties_go_to_even() {
        let tie: f64 = "235800723218794.625".parse().unwrap();
        assert_eq!(tie.fract(), 0.625); // exactly representable: a true tie
        assert_eq!(format_float(tie), "2.3580072321879462e14");
        assert_eq!(format_float(-tie), "-2.3580072321879462e14");
    }

    #[test]
    fn always_round_trips() {
        let mut x: u64 = 0x9E3779B97F4A7C15;
        for _ in 0..20_000 {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let f = f64::from_bits(x.wrapping_mul(0x2545F4914F6CDD1D));
            if f.is_finite() {
                assert_eq!(format_float(f).parse::<f64>().unwrap(), f);
            }
        }
    }
}
