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
    // In 128 bits, the sign applied last: the most negative amount (`i64::MIN`) has no
    // positive counterpart in 64 bits.
    let scale = 10_i128.checked_pow(exponent).ok_or_else(too_large)?;
    let whole: i128 = whole.parse().map_err(|_| too_large())?;
    let fraction: i128 = if fraction.is_empty() {
        0
    } else {
        fraction.parse::<i128>().map_err(|_| too_large())? * 10_i128.pow(exponent - places)
    };
    let amount = whole.checked_mul(scale).and_then(|w| w.checked_add(fraction)).ok_or_else(too_large)?;
    i64::try_from(if negative { -amount } else { amount }).map_err(|_| too_large())
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

/// Property tests (proptest) of the decimal ⇄ minor units conversion. Cases: 256 by default
/// (`PROPTEST_CASES` for longer runs); failures are kept in
/// `proptest-regressions/guide/money.txt` and replayed first.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    /// The exponents of ISO 4217 currencies in circulation.
    fn exponent() -> impl Strategy<Value = u32> {
        prop::sample::select(vec![0u32, 2, 3])
    }

    /// Found by `decimals_round_trip` (kept in the regressions file too): the most negative
    /// amount printed, but did not read back (TooLarge).
    #[test]
    fn the_most_negative_amount_reads_back() {
        assert_eq!(to_minor_units("-9223372036854775808", "JPY", 0), Ok(i64::MIN));
        assert_eq!(to_minor_units("-92233720368547758.08", "USD", 2), Ok(i64::MIN));
        assert!(matches!(to_minor_units("9223372036854775808", "JPY", 0), Err(MoneyError::TooLarge(_))));
    }

    proptest! {
        /// Every amount prints as a decimal that reads back as the same amount.
        #[test]
        fn decimals_round_trip(
            minor in prop_oneof![any::<i64>(), -100_000i64..100_000, Just(i64::MIN), Just(i64::MAX)],
            exponent in exponent(),
        ) {
            let text = to_decimal(minor, exponent);
            prop_assert_eq!(to_minor_units(&text, "XXX", exponent), Ok(minor), "{}", text);
        }

        /// Trailing zeros after the point are not precision: `1.50` is `1.5`.
        #[test]
        fn trailing_zeros_change_nothing(minor in -1_000_000i64..1_000_000, exponent in exponent(), zeros in 1usize..6) {
            let mut text = to_decimal(minor, exponent);
            if exponent == 0 {
                text.push('.');
            }
            text.push_str(&"0".repeat(zeros));
            prop_assert_eq!(to_minor_units(&text, "XXX", exponent), Ok(minor), "{}", text);
        }

        /// An amount with a significant digit beyond the currency's minor unit is refused,
        /// never rounded.
        #[test]
        fn inexact_amounts_are_refused(
            whole in "-?[0-9]{1,6}",
            (exponent, fraction) in exponent().prop_flat_map(|exponent| {
                // At least one digit more than the currency has, the last one significant.
                let digits = format!("[0-9]{{{exponent}}}[0-9]{{0,3}}[1-9]");
                (Just(exponent), proptest::string::string_regex(&digits).unwrap())
            }),
        ) {
            let text = format!("{whole}.{fraction}");
            prop_assert!(matches!(to_minor_units(&text, "XXX", exponent), Err(MoneyError::TooPrecise { .. })), "{}", text);
        }

        /// Any text: no panic; an amount only for a plain decimal, and then the exact value
        /// (checked against 128-bit arithmetic).
        #[test]
        fn any_text_is_an_exact_amount_or_refused(
            text in prop_oneof![any::<String>(), "-?[0-9]{0,21}(\\.[0-9]{0,5})?", "[-+0-9.eE]{0,8}"],
            exponent in exponent(),
        ) {
            let result = to_minor_units(&text, "XXX", exponent);
            let Some((negative, whole, fraction)) = regex_like_decimal(&text) else {
                prop_assert!(matches!(result, Err(MoneyError::NotADecimal(_))), "{text:?} gave {result:?}");
                return Ok(());
            };
            let fraction = fraction.trim_end_matches('0');
            if fraction.len() > exponent as usize {
                prop_assert!(matches!(result, Err(MoneyError::TooPrecise { .. })), "{text:?} gave {result:?}");
                return Ok(());
            }
            let scaled = format!("{whole}{fraction}{}", "0".repeat(exponent as usize - fraction.len()));
            let exact = scaled.parse::<i128>().ok().map(|m| if negative { -m } else { m });
            match exact.and_then(|exact| i64::try_from(exact).ok()) {
                Some(exact) => prop_assert_eq!(result, Ok(exact), "{}", text),
                None => prop_assert!(matches!(result, Err(MoneyError::TooLarge(_))), "{text:?} gave {result:?}"),
            }
        }
    }

    /// `-?digits(.digits)?` split into its parts, or `None`.
    fn regex_like_decimal(text: &str) -> Option<(bool, &str, &str)> {
        let (negative, digits) = text.strip_prefix('-').map_or((false, text), |rest| (true, rest));
        let (whole, fraction) = match digits.split_once('.') {
            Some((whole, fraction)) if !fraction.is_empty() => (whole, fraction),
            Some(_) => return None,
            None => (digits, ""),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        (!whole.is_empty() && all_digits(whole) && all_digits(fraction)).then_some((negative, whole, fraction))
    }
}
