//! Reading dates and times from text: ISO 8601 (`isoparse`), dateutil's looser `parser.parse`,
//! and timestamps found in JSON.

use jiff::tz::{Offset, TimeZone};
use minijinja::Error;
use minijinja::value::Value;

use super::datetime::build_datetime;
use super::{DAY_NAMES, MONTH_NAMES, PyDateTime, jiff_fail};
use crate::args::fail;

/// ISO 8601 as dateutil's `isoparse` and Python's `fromisoformat` read it.
pub fn isoparse(text: &str) -> Result<PyDateTime, Error> {
    let bad = || fail(format!("Invalid isoformat string: '{text}'"));
    let s = text.trim();
    let (date_part, time_part) = match s.find(['T', ' ']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let (year, month, day) = match date_part.split('-').collect::<Vec<_>>().as_slice() {
        [y, m, d] if digits(y) && digits(m) && digits(d) => {
            (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?)
        }
        [y, m] if digits(y) && digits(m) => (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?, 1),
        [y] if digits(y) && y.len() == 8 => (
            y[..4].parse().map_err(|_| bad())?,
            y[4..6].parse().map_err(|_| bad())?,
            y[6..].parse().map_err(|_| bad())?,
        ),
        [y] if digits(y) && y.len() == 4 => (y.parse().map_err(|_| bad())?, 1, 1),
        _ => return Err(bad()),
    };
    let (mut hour, mut minute, mut second, mut micro, mut offset) = (0, 0, 0, 0, None);
    if let Some(t) = time_part {
        let zone_at = t.find(['Z', 'z', '+', '-']);
        let (clock, zone) = match zone_at {
            Some(i) => (&t[..i], Some(&t[i..])),
            None => (t, None),
        };
        let (clock, fraction) = match clock.split_once(['.', ',']) {
            Some((c, f)) => (c, Some(f)),
            None => (clock, None),
        };
        let fields: Vec<&str> = if clock.contains(':') {
            clock.split(':').collect()
        } else {
            clock.as_bytes().chunks(2).map(|c| std::str::from_utf8(c).unwrap_or("")).collect()
        };
        if fields.is_empty() || fields.len() > 3 || !fields.iter().all(|f| f.len() == 2 && digits(f)) {
            return Err(bad());
        }
        let field = |i: usize| fields.get(i).map(|f| f.parse::<i64>().unwrap_or(0)).unwrap_or(0);
        (hour, minute, second) = (field(0), field(1), field(2));
        if let Some(f) = fraction {
            if !digits(f) {
                return Err(bad());
            }
            micro = format!("{:0<6}", &f[..f.len().min(6)]).parse().map_err(|_| bad())?;
        }
        if let Some(z) = zone {
            offset = Some(parse_offset(z).ok_or_else(bad)?);
        }
    }
    let civil = build_datetime(year, month, day, hour, minute, second, micro)?;
    let tz = offset
        .map(|s| Offset::from_seconds(s).map(TimeZone::fixed))
        .transpose()
        .map_err(|e| jiff_fail("isoparse", e))?;
    Ok(PyDateTime { civil, tz })
}

/// `Z`, `UTC`, `+11`, `+1100`, `+11:00` as seconds east of UTC.
fn parse_offset(z: &str) -> Option<i32> {
    if matches!(z.to_ascii_uppercase().as_str(), "Z" | "UTC" | "GMT") {
        return Some(0);
    }
    let sign = match z.chars().next()? {
        '+' => 1,
        '-' => -1,
        _ => return None,
    };
    let body: String = z[1..].chars().filter(|c| *c != ':').collect();
    if !body.bytes().all(|b| b.is_ascii_digit()) || !matches!(body.len(), 2 | 4) {
        return None;
    }
    let h: i32 = body[..2].parse().ok()?;
    let m: i32 = body.get(2..4).map(|m| m.parse().unwrap_or(0)).unwrap_or(0);
    Some(sign * (h * 3600 + m * 60))
}

/// dateutil's `parser.parse` for the forms people write: ISO, `4 Mar 2025 7:15pm`,
/// `March 4, 2025`, `03/04/2025 10:00` (month first unless `dayfirst`). Missing date parts
/// come from today, missing time parts are zero.
pub fn parse_loose(text: &str, dayfirst: bool) -> Result<PyDateTime, Error> {
    if let Ok(iso) = isoparse(text) {
        return Ok(iso);
    }
    let bad = || fail(format!("Unknown string format: {text}"));
    let today = jiff::Zoned::now().date();
    let (mut year, mut month, mut day) = (None::<i64>, None::<i64>, None::<i64>);
    let (mut hour, mut minute, mut second, mut micro) = (0i64, 0i64, 0i64, 0i64);
    let mut offset = None;
    let mut numbers: Vec<String> = Vec::new();
    let words = text.split([' ', ',', '\t']).filter(|w| !w.is_empty());
    for word in words {
        let lower = word.to_ascii_lowercase();
        let (core, meridian) = match lower.strip_suffix("am").or_else(|| lower.strip_suffix("a.m.")) {
            Some(c) => (c.to_string(), Some(false)),
            None => match lower.strip_suffix("pm").or_else(|| lower.strip_suffix("p.m.")) {
                Some(c) => (c.to_string(), Some(true)),
                None => (lower.clone(), None),
            },
        };
        if core.is_empty() {
            if let Some(pm) = meridian {
                hour = hour % 12 + if pm { 12 } else { 0 };
            }
            continue;
        }
        if let Some(i) = MONTH_NAMES.iter().position(|m| m.to_ascii_lowercase().starts_with(&core) && core.len() >= 3) {
            month = Some(i as i64 + 1);
        } else if DAY_NAMES.iter().any(|d| d.to_ascii_lowercase().starts_with(&core) && core.len() >= 3)
            || core == "at"
            || core == "on"
        {
        } else if core.contains(':') || meridian.is_some() {
            let (clock, fraction) = core.split_once('.').map(|(c, f)| (c, Some(f))).unwrap_or((&core, None));
            let parts: Vec<i64> = clock.split(':').map(|p| p.parse().map_err(|_| bad())).collect::<Result<_, _>>()?;
            hour = *parts.first().ok_or_else(bad)?;
            minute = parts.get(1).copied().unwrap_or(0);
            second = parts.get(2).copied().unwrap_or(0);
            if let Some(f) = fraction {
                micro = format!("{:0<6}", &f[..f.len().min(6)]).parse().map_err(|_| bad())?;
            }
            if let Some(pm) = meridian {
                hour = hour % 12 + if pm { 12 } else { 0 };
            }
        } else if let Some(o) = parse_offset(word) {
            offset = Some(o);
        } else if core.chars().all(|c| c.is_ascii_digit() || matches!(c, '/' | '-' | '.')) {
            numbers.extend(core.split(['/', '-', '.']).filter(|p| !p.is_empty()).map(str::to_string));
        } else if let Some(stripped) =
            ["st", "nd", "rd", "th"].iter().find_map(|s| core.strip_suffix(s)).filter(|c| c.parse::<i64>().is_ok())
        {
            day = Some(stripped.parse().map_err(|_| bad())?);
        } else {
            return Err(bad());
        }
    }
    let mut rest: Vec<(i64, usize)> = Vec::new();
    for n in &numbers {
        let v: i64 = n.parse().map_err(|_| bad())?;
        if n.len() >= 3 || v > 31 {
            if year.is_some() {
                return Err(bad());
            }
            year = Some(if n.len() <= 2 { 2000 + v } else { v });
        } else {
            rest.push((v, n.len()));
        }
    }
    let year_first = numbers.first().is_some_and(|n| n.len() >= 3);
    match (month.is_some(), rest.as_slice()) {
        (_, []) => {}
        (true, [d]) => day = day.or(Some(d.0)),
        (true, [d, y]) => {
            day = Some(d.0);
            year = Some(2000 + y.0);
        }
        (false, [a]) => day = Some(a.0),
        (false, [a, b]) => {
            let (m, d) = if dayfirst && !year_first { (b.0, a.0) } else { (a.0, b.0) };
            (month, day) = (Some(m), Some(d));
        }
        (false, [a, b, c]) => {
            let (m, d) = if dayfirst { (b.0, a.0) } else { (a.0, b.0) };
            (month, day, year) = (Some(m), Some(d), Some(2000 + c.0));
        }
        _ => return Err(bad()),
    }
    let civil = build_datetime(
        year.unwrap_or(today.year() as i64),
        month.unwrap_or(today.month() as i64),
        day.unwrap_or(today.day() as i64),
        hour,
        minute,
        second,
        micro,
    )?;
    let tz =
        offset.map(|s| Offset::from_seconds(s).map(TimeZone::fixed)).transpose().map_err(|e| jiff_fail("parse", e))?;
    Ok(PyDateTime { civil, tz })
}

/// A datetime value for a JSON timestamp string, keeping its written offset.
pub fn datetime_from_text(text: &str) -> Option<Value> {
    let parsed = isoparse(text).ok()?;
    parsed.tz.as_ref()?;
    Some(Value::from_object(parsed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::Date;

    #[test]
    fn parses_the_usual_forms() {
        let cases = [
            ("2025-03-04", "2025-03-04 00:00:00"),
            ("2025-03-04T07:15:02+11:00", "2025-03-04 07:15:02+11:00"),
            ("20250304T071502Z", "2025-03-04 07:15:02+00:00"),
            ("4 Mar 2025 7:15pm", "2025-03-04 19:15:00"),
            ("March 4, 2025", "2025-03-04 00:00:00"),
            ("03/04/2025 10:00", "2025-03-04 10:00:00"),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_loose(text, false).unwrap().isoformat(" "), expected, "{text}");
        }
        assert_eq!(parse_loose("03/04/2025", true).unwrap().civil.date(), Date::constant(2025, 4, 3));
        assert!(parse_loose("not a date", false).is_err());
    }
}
