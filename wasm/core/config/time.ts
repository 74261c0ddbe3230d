// RFC 3339 timestamps and short durations for configuration (rollout schedules).
// Configure time only; results in ms since the Unix epoch (f64 holds them exactly).

function digits(s: string, at: i32, n: i32): i32 {
  if (at + n > s.length) return -1;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(at + i) - 0x30;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

// Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's algorithm).
function daysFromCivil(y: i32, m: i32, d: i32): i64 {
  y -= m <= 2 ? 1 : 0;
  const era = (y >= 0 ? y : y - 399) / 400;
  const yoe = y - era * 400;
  const doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return <i64>era * 146097 + <i64>doe - 719468;
}

const MONTH_DAYS: StaticArray<i32> = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

// "2026-11-27T10:00:00Z", "2026-11-27T10:00:00.5+02:00" -> ms; NaN when invalid.
export function parseRfc3339(s: string): f64 {
  if (s.length < 20) return NaN;
  const y = digits(s, 0, 4), mo = digits(s, 5, 2), d = digits(s, 8, 2);
  const h = digits(s, 11, 2), mi = digits(s, 14, 2), se = digits(s, 17, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 60) return NaN;
  if (s.charCodeAt(4) != 0x2d || s.charCodeAt(7) != 0x2d || s.charCodeAt(13) != 0x3a || s.charCodeAt(16) != 0x3a) return NaN;
  const t = s.charCodeAt(10) | 0x20;
  if (t != 0x74) return NaN;                                   // 'T' or 't'
  const leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > MONTH_DAYS[mo - 1] || (mo == 2 && d == 29 && !leap)) return NaN;
  let i = 19;
  let frac: f64 = 0;
  if (i < s.length && s.charCodeAt(i) == 0x2e) {
    i++;
    let scale: f64 = 100;
    const start = i;
    while (i < s.length && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39) {
      frac += <f64>(s.charCodeAt(i) - 0x30) * scale;
      scale /= 10;
      i++;
    }
    if (i == start) return NaN;
  }
  let offsetMin = 0;
  if (i >= s.length) return NaN;
  const z = s.charCodeAt(i);
  if ((z | 0x20) == 0x7a && i + 1 == s.length) offsetMin = 0;  // 'Z'
  else if ((z == 0x2b || z == 0x2d) && i + 6 == s.length && s.charCodeAt(i + 3) == 0x3a) {
    const oh = digits(s, i + 1, 2), om = digits(s, i + 4, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return NaN;
    offsetMin = (oh * 60 + om) * (z == 0x2d ? -1 : 1);
  } else return NaN;
  const days = daysFromCivil(y, mo, d);
  const secs = <f64>days * 86400 + <f64>(h * 3600 + mi * 60 + min(se, 59)) - <f64>offsetMin * 60;
  return secs * 1000 + Math.floor(frac);
}

// "0m", "90s", "30m", "2h", "1d", "250ms" -> ms; -1 when invalid.
export function parseDuration(s: string): f64 {
  let i = 0;
  let v: f64 = 0;
  while (i < s.length && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39) { v = v * 10 + <f64>(s.charCodeAt(i) - 0x30); i++; }
  if (i == 0 || i > 9) return -1;
  const unit = s.substring(i);
  if (unit == "ms") return v;
  if (unit == "s") return v * 1000;
  if (unit == "m") return v * 60000;
  if (unit == "h") return v * 3600000;
  if (unit == "d") return v * 86400000;
  return -1;
}
