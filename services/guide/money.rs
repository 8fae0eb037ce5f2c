//! The guide's decimal amounts (`"amount": 99.99`) ⇄ integer minor units, exactly: the
//! decimal is read from the JSON text itself, never through a float, and an amount with more
//! decimal places than the currency has is refused rather than rounded.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount must be a plain decimal number like 99.99, not {0}")]
    NotADecimal(String),
    #[error("amount {amount} has more decimal places than {currency} allows ({exponent})")]
    TooPrecise { amount: String, currency: String, exponent: u32 },
    #[error("amount {0} is too large")]
    TooLarge(String),
    #[error("currency must be a 3-letter ISO 4217 code in circulation, like USD, not {0:?}")]
    UnknownCurrency(String),
}

/// `text` (a JSON number as written) in minor units of a currency with `exponent` decimals.
pub fn to_minor_units(text: &str, currency: &str, exponent: u32) -> Result<i64, MoneyError> {
    let not_decimal = || MoneyError::NotADecimal(text.to_owned());
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    // JSON's exponent notation (1e2) is not how anyone writes money; refuse it plainly.
    if digits.contains(['e', 'E', '+']) {
        return Err(not_decimal());
    }
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(not_decimal());
    }
    if digits.contains('.') && fraction.is_empty() {
        return Err(not_decimal());
    }
    let fraction = fraction.trim_end_matches('0');
    let places = u32::try_from(fraction.len()).unwrap_or(u32::MAX);
    if places > exponent {
        return Err(MoneyError::TooPrecise { amount: text.to_owned(), currency: currency.to_owned(), exponent });
    }
    let too_large = || MoneyError::TooLarge(text.to_owned());
    let scale = 10_i64.checked_pow(exponent).ok_or_else(too_large)?;
    let whole: i64 = whole.parse().map_err(|_| too_large())?;
    let fraction: i64 = if fraction.is_empty() {
        0
    } else {
        fraction.parse::<i64>().map_err(|_| too_large())? * 10_i64.pow(exponent - places)
    };
    let amount = whole.checked_mul(scale).and_then(|w| w.checked_add(fraction)).ok_or_else(too_large)?;
    Ok(if negative { -amount } else { amount })
}

/// Minor units as the guide's decimal (`9999`, 2 → `99.99`; `500`, 0 → `500`).
pub fn to_decimal(minor: i64, exponent: u32) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let magnitude = minor.unsigned_abs();
    if exponent == 0 {
        return format!("{sign}{magnitude}");
    }
    let scale = 10_u64.pow(exponent);
    format!("{sign}{}.{:0width$}", magnitude / scale, magnitude % scale, width = exponent as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_convert_exactly_or_not_at_all() {
        assert_eq!(to_minor_units("99.99", "USD", 2), Ok(9999));
        assert_eq!(to_minor_units("99.9", "USD", 2), Ok(9990));
        assert_eq!(to_minor_units("100", "USD", 2), Ok(10000));
        assert_eq!(to_minor_units("0.10", "USD", 2), Ok(10));
        assert_eq!(to_minor_units("1.500", "USD", 2), Ok(150), "trailing zeros are not precision");
        assert_eq!(to_minor_units("500", "JPY", 0), Ok(500));
        assert_eq!(to_minor_units("1.234", "KWD", 3), Ok(1234));
        assert_eq!(to_minor_units("-5.25", "USD", 2), Ok(-525));
        assert!(matches!(to_minor_units("99.999", "USD", 2), Err(MoneyError::TooPrecise { .. })));
        assert!(matches!(to_minor_units("0.5", "JPY", 0), Err(MoneyError::TooPrecise { .. })));
        for bad in ["1e2", "", ".5", "5.", "1.2.3", "abc", "+5", "- 5"] {
            assert!(matches!(to_minor_units(bad, "USD", 2), Err(MoneyError::NotADecimal(_))), "{bad}");
        }
        assert!(matches!(to_minor_units("99999999999999999999", "USD", 2), Err(MoneyError::TooLarge(_))));
    }

    #[test]
    fn minor_units_print_as_the_guide_wrote_them() {
        assert_eq!(to_decimal(9999, 2), "99.99");
        assert_eq!(to_decimal(10, 2), "0.10");
        assert_eq!(to_decimal(500, 0), "500");
        assert_eq!(to_decimal(1234, 3), "1.234");
        assert_eq!(to_decimal(-525, 2), "-5.25");
    }
}
