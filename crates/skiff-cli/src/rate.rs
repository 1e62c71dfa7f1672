//! Speeds written on the command line (`--limit 500K`): bytes per second, with an optional
//! K, M or G suffix in powers of 1024.

/// Parse a rate such as `500K`, `10M`, `1.5M`, `2g` or `65536` into bytes per second.
/// `0` is allowed (it means no limit); anything else must come to at least 1 byte/s.
pub fn parse_rate(text: &str) -> Result<u64, String> {
    let bad = |why: &str| format!("cannot use {text:?} as a rate: {why} (write e.g. 500K, 10M or 1.5M bytes per second)");
    let trimmed = text.trim();
    let (number, multiplier) = match trimmed.char_indices().last() {
        Some((i, 'k' | 'K')) => (&trimmed[..i], 1024f64),
        Some((i, 'm' | 'M')) => (&trimmed[..i], 1024f64 * 1024.0),
        Some((i, 'g' | 'G')) => (&trimmed[..i], 1024f64 * 1024.0 * 1024.0),
        Some(_) => (trimmed, 1f64),
        None => return Err(bad("it is empty")),
    };
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(bad("not a number with an optional K, M or G"));
    }
    let value: f64 = number.parse().map_err(|_| bad("not a number"))?;
    let rate = (value * multiplier).round();
    if rate >= u64::MAX as f64 {
        return Err(bad("too large"));
    }
    if rate < 1.0 && value != 0.0 {
        return Err(bad("below 1 byte per second"));
    }
    Ok(rate as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_are_powers_of_1024() {
        assert_eq!(parse_rate("65536"), Ok(65536));
        assert_eq!(parse_rate("500K"), Ok(500 * 1024));
        assert_eq!(parse_rate("500k"), Ok(500 * 1024));
        assert_eq!(parse_rate("10M"), Ok(10 * 1024 * 1024));
        assert_eq!(parse_rate("1.5M"), Ok(1024 * 1024 * 3 / 2));
        assert_eq!(parse_rate("2G"), Ok(2 * 1024 * 1024 * 1024));
        assert_eq!(parse_rate(" 0.5K "), Ok(512));
        assert_eq!(parse_rate("0"), Ok(0));
    }

    #[test]
    fn nonsense_is_refused() {
        for bad in ["", "K", "-1M", "1.5.2M", "10MB", "1e3", "ten", "inf", "NaN", "0.0001K", "99999999999G"] {
            assert!(parse_rate(bad).is_err(), "{bad:?} was accepted as {:?}", parse_rate(bad));
        }
    }
}
