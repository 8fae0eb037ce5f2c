//! ISO-4217 currency codes in circulation (the list maintained by SIX, as of 2024).

const CODES: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BHD", "BIF",
    "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CLP", "CNY", "COP", "CRC",
    "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS",
    "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD",
    "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL",
    "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD",
    "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD",
    "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP",
    "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VES",
    "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
];

pub fn is_iso_4217(code: &str) -> bool {
    CODES.binary_search(&code).is_ok()
}

/// How many decimal places the currency's minor unit has (ISO 4217): 2 for most, 0 for
/// currencies without a minor unit in use (JPY, KRW…), 3 for the dinars and rials that have
/// one (BHD, KWD…). `None` for a code not in circulation.
pub fn minor_unit_exponent(code: &str) -> Option<u32> {
    const ZERO: &[&str] = &[
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF",
    ];
    const THREE: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
    if !is_iso_4217(code) {
        return None;
    }
    Some(if ZERO.contains(&code) {
        0
    } else if THREE.contains(&code) {
        3
    } else {
        2
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn list_is_sorted_for_binary_search_and_checks_case() {
        assert!(super::CODES.windows(2).all(|w| w[0] < w[1]));
        assert!(super::is_iso_4217("USD"));
        assert!(!super::is_iso_4217("usd"));
        assert!(!super::is_iso_4217("XYZ"));
    }

    #[test]
    fn exponents_follow_iso_4217() {
        assert_eq!(super::minor_unit_exponent("USD"), Some(2));
        assert_eq!(super::minor_unit_exponent("JPY"), Some(0));
        assert_eq!(super::minor_unit_exponent("KWD"), Some(3));
        assert_eq!(super::minor_unit_exponent("usd"), None);
    }
}
