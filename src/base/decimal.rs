//! Exact decimals: money and exchange rates as unscaled 128-bit integers at fixed scales,
//! parsed from text and divided with rounding half away from zero (contract §2). No I/O.

/// Fractional digits of money.
pub const MONEY_SCALE: u32 = 6;
/// Fractional digits of exchange rates.
pub const RATE_SCALE: u32 = 10;

/// Parses a plain decimal into its unscaled value at `scale`, rounding half away from zero.
pub fn parse_decimal(text: &str, scale: u32) -> Result<i128, String> {
    let not_decimal = || format!("`{text}` is not a decimal number");
    let too_large = || format!("{text} is too large for a decimal");
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if (whole.is_empty() && fraction.is_empty())
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(not_decimal());
    }
    let mut unscaled: i128 = 0;
    for b in whole.bytes() {
        unscaled = unscaled
            .checked_mul(10)
            .and_then(|v| v.checked_add((b - b'0') as i128))
            .ok_or_else(too_large)?;
    }
    let kept = fraction.len().min(scale as usize);
    for i in 0..scale as usize {
        let digit = if i < kept {
            (fraction.as_bytes()[i] - b'0') as i128
        } else {
            0
        };
        unscaled = unscaled
            .checked_mul(10)
            .and_then(|v| v.checked_add(digit))
            .ok_or_else(too_large)?;
    }
    if fraction.len() > kept && fraction.as_bytes()[kept] >= b'5' {
        unscaled = unscaled.checked_add(1).ok_or_else(too_large)?;
    }
    // 38 digits is the widest Decimal128.
    if unscaled >= 10i128.pow(38) {
        return Err(too_large());
    }
    Ok(if negative { -unscaled } else { unscaled })
}

/// `numerator / denominator` rounded half away from zero.
pub fn divide_rounded(numerator: i128, denominator: i128) -> i128 {
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    if remainder.abs() * 2 >= denominator.abs() {
        quotient + numerator.signum() * denominator.signum()
    } else {
        quotient
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_round_half_away_from_zero() {
        assert_eq!(parse_decimal("1.0000005", 6), Ok(1_000_001));
        assert_eq!(parse_decimal("-1.0000005", 6), Ok(-1_000_001));
        assert_eq!(parse_decimal("1.0000004", 6), Ok(1_000_000));
        assert_eq!(parse_decimal("12", 6), Ok(12_000_000));
        assert_eq!(parse_decimal(".5", 6), Ok(500_000));
        assert!(parse_decimal("1e3", 6).is_err());
        assert!(parse_decimal("", 6).is_err());
        assert!(parse_decimal("99999999999999999999999999999999999", 6).is_err());
    }

    #[test]
    fn division_rounds_half_away_from_zero() {
        // 100.000002 / 12 = 8.3333335 -> 8.333334
        assert_eq!(divide_rounded(100_000_002, 12), 8_333_334);
        assert_eq!(divide_rounded(-100_000_002, 12), -8_333_334);
        assert_eq!(divide_rounded(120_000_000, 12), 10_000_000);
    }
}
