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
    let mut fields = Fields::default();
    let mut rest = text;
    let mut fmt = format.chars();
    while let Some(c) = fmt.next() {
        if c == '%' {
            let code = fmt.next().ok_or_else(bad)?;
            fields.read(code, &mut rest, &bad)?;
        } else if c.is_whitespace() {
            rest = rest.trim_start();
        } else {
            rest = rest.strip_prefix(c).ok_or_else(bad)?;
        }
    }
    if !rest.is_empty() {
        return Err(fail(format!("unconverted data remains: {rest}")));
    }
    let Fields { year, month, day, mut hour, minute, second, micro, pm, offset } = fields;
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

/// What [`strptime`] has read so far (Python's defaults: 1900-01-01 00:00:00).
struct Fields {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    micro: i64,
    pm: Option<bool>,
    offset: Option<i32>,
}

impl Default for Fields {
    fn default() -> Self {
        Fields { year: 1900, month: 1, day: 1, hour: 0, minute: 0, second: 0, micro: 0, pm: None, offset: None }
    }
}

impl Fields {
    /// Reads directive `%code` from the start of `rest`, moving past what it read; `bad` is the
    /// error of text that does not match.
    fn read(&mut self, code: char, rest: &mut &str, bad: &dyn Fn() -> Error) -> Result<(), Error> {
        match code {
            'Y' => self.year = take_digits(rest, 4).ok_or_else(bad)?,
            'y' => {
                let y = take_digits(rest, 2).ok_or_else(bad)?;
                self.year = if y < 69 { 2000 + y } else { 1900 + y };
            }
            'm' => self.month = take_digits(rest, 2).ok_or_else(bad)?,
            'd' => self.day = take_digits(rest, 2).ok_or_else(bad)?,
            'H' | 'I' => self.hour = take_digits(rest, 2).ok_or_else(bad)?,
            'M' => self.minute = take_digits(rest, 2).ok_or_else(bad)?,
            'S' => self.second = take_digits(rest, 2).ok_or_else(bad)?,
            'f' => {
                let n = rest.chars().take(6).take_while(|c| c.is_ascii_digit()).count();
                let digits = &rest[..n];
                self.micro = format!("{digits:0<6}").parse().map_err(|_| bad())?;
                *rest = &rest[n..];
            }
            'j' => {
                let doy = take_digits(rest, 3).ok_or_else(bad)?;
                let date = build_date(self.year, 1, 1)?
                    .checked_add(SignedDuration::from_hours((doy - 1) * 24))
                    .map_err(|_| bad())?;
                (self.month, self.day) = (date.month() as i64, date.day() as i64);
            }
            'b' | 'B' | 'h' => self.month = take_name(rest, &MONTH_NAMES).ok_or_else(bad)? + 1,
            'a' | 'A' => {
                take_name(rest, &DAY_NAMES).ok_or_else(bad)?;
            }
            'p' => {
                let upper = rest.get(..2).map(str::to_ascii_uppercase);
                self.pm = Some(match upper.as_deref() {
                    Some("AM") => false,
                    Some("PM") => true,
                    _ => return Err(bad()),
                });
                *rest = &rest[2..];
            }
            'z' => self.offset = Some(take_offset(rest).ok_or_else(bad)?),
            '%' => *rest = rest.strip_prefix('%').ok_or_else(bad)?,
            _ => return Err(fail(format!("strptime: unsupported directive %{code}"))),
        }
        Ok(())
    }
}

/// Up to `max` digits from the start of `rest`.
fn take_digits(rest: &mut &str, max: usize) -> Option<i64> {
    let n = rest.chars().take(max).take_while(|c| c.is_ascii_digit()).count();
    if n == 0 {
        return None;
    }
    let v = rest[..n].parse().ok()?;
    *rest = &rest[n..];
    Some(v)
}

/// The index in `names` of the name (or its first three letters) `rest` starts with, in any case.
fn take_name(rest: &mut &str, names: &[&str]) -> Option<i64> {
    for (i, name) in names.iter().enumerate() {
        for candidate in [*name, &name[..3]] {
            if rest.len() >= candidate.len() && rest[..candidate.len()].eq_ignore_ascii_case(candidate) {
                *rest = &rest[candidate.len()..];
                return Some(i as i64);
            }
        }
    }
    None
}

/// A `%z` offset in seconds: `Z`, or `+HH[:]MM`/`-HH[:]MM` (minutes optional).
fn take_offset(rest: &mut &str) -> Option<i32> {
    if let Some(r) = rest.strip_prefix('Z') {
        *rest = r;
        return Some(0);
    }
    let sign = match rest.chars().next() {
        Some('+') => 1,
        Some('-') => -1,
        _ => return None,
    };
    *rest = &rest[1..];
    let h = take_digits(rest, 2)?;
    *rest = rest.strip_prefix(':').unwrap_or(rest);
    let m = take_digits(rest, 2).unwrap_or(0);
    Some(sign * (h * 3600 + m * 60) as i32)
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
