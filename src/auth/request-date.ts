// The Date (or X-BackendAI-Date) of a signed request as an instant, read the
// way the manager's dateutil does for what clients send: ISO 8601 extended or
// basic with or without an offset (none means UTC), or an RFC 1123 date.

const ISO = /^(\d{4})-?(\d{2})-?(\d{2})(?:[T ](\d{2}):?(\d{2})(?::?(\d{2})(?:[.,](\d+))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** Milliseconds since the epoch, or null when the value is no date Kiln can read. */
export function parseRequestDate(raw: string): number | null {
  const text = raw.trim();
  const iso = ISO.exec(text);
  if (iso) {
    const [, y, mo, d, h = "0", mi = "0", s = "0", frac = "", zone = "Z"] = iso;
    const ms = Number(`0.${frac || "0"}`) * 1000;
    const utc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
    // Date.UTC rolls 2024-02-30 over into March; a date that does not exist is no date.
    const day = new Date(utc);
    if (day.getUTCMonth() !== Number(mo) - 1 || day.getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59 || Number(s) > 60) return null;
    return utc - offsetMinutes(zone) * 60_000;
  }
  // RFC 1123 (and RFC 850, asctime) dates name their zone; without one Date.parse would read local time.
  if (!/\b(?:GMT|UTC|UT)$|[+-]\d{4}$/i.test(text)) return null;
  const parsed = Date.parse(text);
  return Number.isNaN(parsed) ? null : parsed;
}

function offsetMinutes(zone: string): number {
  if (zone.toUpperCase() === "Z") return 0;
  const [, sign, hh, mm = "0"] = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
  return (sign === "-" ? -1 : 1) * (Number(hh) * 60 + Number(mm));
}
