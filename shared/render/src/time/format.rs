//! Python's `strftime` and `datetime.strptime`, with the C library's format codes.

use jiff::SignedDuration;
use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};
use minijinja::Error;

use super::datetime::{build_date, build_datetime, offset_text, tz_abbreviation, weekday_number};
use super::{DAY_NAMES, MONTH_NAMES, PyDateTime, jiff_fail};
use crate::args::fail;

/// Python's `strftime` with the C library's codes (and the `-` no-padding flag).
pub fn strftime(at: DateTime, zone: Option<&jiff::Zoned>, format: &str) -> String {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let unpadded = chars.peek() == Some(&'-');
        if unpadded {
            chars.next();
        }
        let Some(code) = chars.next() else {
            out.push('%');
            break;
        };
        let num = |v: i64, width: usize| if unpadded { v.to_string() } else { format!("{v:0width$}") };
        let weekday = weekday_number(at.date()) as usize;
        let hour12 = match at.hour() % 12 {
            0 => 12,
            h => h,
        } as i64;
        let text = match code {
            'a' => DAY_NAMES[weekday][..3].to_string(),
            'A' => DAY_NAMES[weekday].to_string(),
            'b' | 'h' => MONTH_NAMES[at.month() as usize - 1][..3].to_string(),
            'B' => MONTH_NAMES[at.month() as usize - 1].to_string(),
            'c' => strftime(at, zone, "%a %b %e %H:%M:%S %Y"),
            'C' => num(at.year() as i64 / 100, 2),
            'd' => num(at.day() as i64, 2),
            'D' | 'x' => strftime(at, zone, "%m/%d/%y"),
            'e' => {
                if unpadded {
                    at.day().to_string()
                } else {
                    format!("{:>2}", at.day())
                }
            }
            'f' => format!("{:06}", at.subsec_nanosecond() / 1000),
            'F' => strftime(at, zone, "%Y-%m-%d"),
            'G' => at.date().iso_week_date().year().to_string(),
            'g' => num(at.date().iso_week_date().year() as i64 % 100, 2),
            'H' => num(at.hour() as i64, 2),
            'I' => num(hour12, 2),
            'j' => num(at.day_of_year() as i64, 3),
            'k' => format!("{:>2}", at.hour()),
            'l' => format!("{hour12:>2}"),
            'm' => num(at.month() as i64, 2),
            'M' => num(at.minute() as i64, 2),
            'n' => "\n".into(),
            'p' => (if at.hour() < 12 { "AM" } else { "PM" }).into(),
            'r' => strftime(at, zone, "%I:%M:%S %p"),
            'R' => strftime(at, zone, "%H:%M"),
            's' => zone
                .map(|z| z.timestamp().as_second())
                .unwrap_or_else(|| {
                    TimeZone::system().to_ambiguous_timestamp(at).compatible().map(|t| t.as_second()).unwrap_or(0)
                })
                .to_string(),
            'S' => num(at.second() as i64, 2),
            't' => "\t".into(),
            'T' | 'X' => strftime(at, zone, "%H:%M:%S"),
            'u' => (weekday + 1).to_string(),
            'U' => num((at.day_of_year() as i64 + 6 - ((weekday as i64 + 1) % 7)) / 7, 2),
            'V' => num(at.date().iso_week_date().week() as i64, 2),
            'w' => ((weekday + 1) % 7).to_string(),
            'W' => num((at.day_of_year() as i64 + 6 - weekday as i64) / 7, 2),
            'y' => num(at.year() as i64 % 100, 2),
            'Y' => at.year().to_string(),
            'z' => zone.map(|z| offset_text(z.offset(), "")).unwrap_or_default(),
            'Z' => zone.map(tz_abbreviation).unwrap_or_default(),
            '%' => "%".into(),
            other => format!("%{other}"),
        };
        out.push_str(&text);
    }
    out
}

/// Python's `datetime.strptime` (naive unless the format has `%z`).
pub fn strptime(text: &str, format: &str) -> Result<PyDateTime, Error> {
    let bad = || fail(format!("time data '{text}' does not match format '{format}'"));
    let (mut year, mut month, mut day, mut hour, mut minute, mut second, mut micro) =
        (1900i64, 1i64, 1i64, 0i64, 0i64, 0i64, 0i64);
    let mut pm: Option<bool> = None;
    let mut offset: Option<i32> = None;
    let mut rest = text;
    let mut fmt = format.chars();
    let take_digits = |rest: &mut &str, max: usize| -> Option<i64> {
        let n = rest.chars().take(max).take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let v = rest[..n].parse().ok()?;
        *rest = &rest[n..];
        Some(v)
    };
    let take_name = |rest: &mut &str, names: &[&str]| -> Option<i64> {
        for (i, name) in names.iter().enumerate() {
            for candidate in [*name, &name[..3]] {
                if rest.len() >= candidate.len() && rest[..candidate.len()].eq_ignore_ascii_case(candidate) {
                    *rest = &rest[candidate.len()..];
                    return Some(i as i64);
                }
            }
        }
        None
    };
    while let Some(c) = fmt.next() {
        if c == '%' {
            let code = fmt.next().ok_or_else(bad)?;
            match code {
                'Y' => year = take_digits(&mut rest, 4).ok_or_else(bad)?,
                'y' => {
                    let y = take_digits(&mut rest, 2).ok_or_else(bad)?;
                    year = if y < 69 { 2000 + y } else { 1900 + y };
                }
                'm' => month = take_digits(&mut rest, 2).ok_or_else(bad)?,
                'd' => day = take_digits(&mut rest, 2).ok_or_else(bad)?,
                'H' | 'I' => hour = take_digits(&mut rest, 2).ok_or_else(bad)?,
                'M' => minute = take_digits(&mut rest, 2).ok_or_else(bad)?,
                'S' => second = take_digits(&mut rest, 2).ok_or_else(bad)?,
                'f' => {
                    let n = rest.chars().take(6).take_while(|c| c.is_ascii_digit()).count();
                    let digits = &rest[..n];
                    micro = format!("{digits:0<6}").parse().map_err(|_| bad())?;
                    rest = &rest[n..];
                }
                'j' => {
                    let doy = take_digits(&mut rest, 3).ok_or_else(bad)?;
                    let date = build_date(year, 1, 1)?
                        .checked_add(SignedDuration::from_hours((doy - 1) * 24))
                        .map_err(|_| bad())?;
                    (month, day) = (date.month() as i64, date.day() as i64);
                }
                'b' | 'B' | 'h' => month = take_name(&mut rest, &MONTH_NAMES).ok_or_else(bad)? + 1,
                'a' | 'A' => {
                    take_name(&mut rest, &DAY_NAMES).ok_or_else(bad)?;
                }
                'p' => {
                    let upper = rest.get(..2).map(str::to_ascii_uppercase);
                    pm = Some(match upper.as_deref() {
                        Some("AM") => false,
                        Some("PM") => true,
                        _ => return Err(bad()),
                    });
                    rest = &rest[2..];
                }
                'z' => {
                    if let Some(r) = rest.strip_prefix('Z') {
                        offset = Some(0);
                        rest = r;
                    } else {
                        let sign = match rest.chars().next() {
                            Some('+') => 1,
                            Some('-') => -1,
                            _ => return Err(bad()),
                        };
                        rest = &rest[1..];
                        let h = take_digits(&mut rest, 2).ok_or_else(bad)?;
                        rest = rest.strip_prefix(':').unwrap_or(rest);
                        let m = take_digits(&mut rest, 2).unwrap_or(0);
                        offset = Some(sign * (h * 3600 + m * 60) as i32);
                    }
                }
                '%' => rest = rest.strip_prefix('%').ok_or_else(bad)?,
                _ => return Err(fail(format!("strptime: unsupported directive %{code}"))),
            }
        } else if c.is_whitespace() {
            rest = rest.trim_start();
        } else {
            rest = rest.strip_prefix(c).ok_or_else(bad)?;
        }
    }
    if !rest.is_empty() {
        return Err(fail(format!("unconverted data remains: {rest}")));
    }
    if let Some(pm) = pm {
        hour = hour % 12 + if pm { 12 } else { 0 };
    }
    let civil = build_datetime(year, month, day, hour, minute, second, micro)?;
    let tz = offset
        .map(|s| Offset::from_seconds(s).map(TimeZone::fixed))
        .transpose()
        .map_err(|e| jiff_fail("strptime", e))?;
    Ok(PyDateTime { civil, tz })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strptime_reads_what_strftime_writes() {
        let d = strptime("2025-03-04 19:15:02", "%Y-%m-%d %H:%M:%S").unwrap();
        assert_eq!(
            strftime(d.civil, None, "%a %d %b %Y %I:%M %p, day %j, week %U/%W/%V"),
            "Tue 04 Mar 2025 07:15 PM, day 063, week 09/09/10"
        );
        assert!(strptime("2025-03-04", "%d/%m/%Y").is_err());
    }
}
