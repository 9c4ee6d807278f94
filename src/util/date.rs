//! IMF-fixdate (RFC 7231 section 7.1.1.1), e.g. "Sun, 06 Nov 1994 08:49:37 GMT".

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// (year, month 1..=12, day 1..=31) of a count of days since 1970-01-01 (proleptic
/// Gregorian; Howard Hinnant's civil_from_days).
fn civil_from_days(days: i64) -> (i64, usize, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month as usize, day)
}

fn push2(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(&[b'0' + (n / 10) as u8, b'0' + (n % 10) as u8]);
}

/// The date of `secs` seconds since the epoch (any i64 that keeps the year in range).
pub fn imf_date(secs: i64) -> Vec<u8> {
    let days = secs.div_euclid(86_400);
    let t = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let mut out = Vec::with_capacity(32);
    out.extend_from_slice(DAYS[days.rem_euclid(7) as usize].as_bytes());
    out.extend_from_slice(b", ");
    push2(&mut out, day);
    out.push(b' ');
    out.extend_from_slice(MONTHS[month - 1].as_bytes());
    out.push(b' ');
    if (0..10_000).contains(&year) {
        push2(&mut out, year / 100);
        push2(&mut out, year % 100);
    } else {
        out.extend_from_slice(year.to_string().as_bytes());
    }
    out.push(b' ');
    push2(&mut out, t / 3600);
    out.push(b':');
    push2(&mut out, t / 60 % 60);
    out.push(b':');
    push2(&mut out, t % 60);
    out.extend_from_slice(b" GMT");
    out
}

/// Seconds beyond which the year no longer fits comfortably (about +-290 million years).
pub const MAX_SECS: f64 = 9.0e15;

#[cfg(test)]
mod tests {
    fn imf_date(secs: i64) -> String {
        String::from_utf8(super::imf_date(secs)).unwrap()
    }

    #[test]
    fn dates() {
        assert_eq!(imf_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(imf_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(imf_date(-1), "Wed, 31 Dec 1969 23:59:59 GMT");
        assert_eq!(imf_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(imf_date(253_402_300_799), "Fri, 31 Dec 9999 23:59:59 GMT");
        assert_eq!(imf_date(253_402_300_800), "Sat, 01 Jan 10000 00:00:00 GMT");
    }
}
