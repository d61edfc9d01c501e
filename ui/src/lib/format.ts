const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 });
const whole = new Intl.NumberFormat('en');

/** 245000 → "245K": the dashboard's figures, as the product page shows them. */
export function count(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  return n >= 10_000 ? compact.format(n) : whole.format(n);
}

export function ms(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  return n >= 1000 ? `${(n / 1000).toFixed(1)} s` : `${Math.round(n)} ms`;
}

export function percent(ratio: number | null | undefined, digits = 1): string {
  if (ratio === null || ratio === undefined) return '—';
  return `${(ratio * 100).toFixed(digits)}%`;
}

type DateLike = string | Date | null | undefined;

function toDate(d: DateLike): Date | undefined {
  if (!d) return undefined;
  const date = d instanceof Date ? d : new Date(d);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** "2 min ago", "in 3 h": what a list needs; the exact time goes in a title attribute. */
export function relative(d: DateLike, now = Date.now()): string {
  const date = toDate(d);
  if (!date) return 'never';
  const diff = date.getTime() - now;
  const abs = Math.abs(diff);
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1000, 's'],
  ];
  for (const [size, unit] of units) {
    if (abs >= size) {
      const n = Math.floor(abs / size);
      return diff < 0 ? `${n} ${unit} ago` : `in ${n} ${unit}`;
    }
  }
  return 'just now';
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/**
 * The one date format of the UI, the same in every locale and the same one the date inputs take:
 * `2026-12-01 14:05` in the browser's time zone (`seconds` adds `:07`, as the request log needs).
 */
export function dateTime(d: DateLike, opts: { seconds?: boolean } = {}): string {
  const date = toDate(d);
  if (!date) return '—';
  const day = `${date.getFullYear()}-${pad2(date.getMonth() + 1)}-${pad2(date.getDate())}`;
  const time = `${pad2(date.getHours())}:${pad2(date.getMinutes())}${opts.seconds ? `:${pad2(date.getSeconds())}` : ''}`;
  return `${day} ${time}`;
}

/** `2026-12-01 14:05:07`: times in the request log, where seconds tell requests apart. */
export function dateTimeSeconds(d: DateLike): string {
  return dateTime(d, { seconds: true });
}

/**
 * What a date input accepts: `2026-12-01`, `2026-12-01 14:05` or `2026-12-01T14:05:07`, read in the
 * browser's time zone. A plain text input read by this replaces `datetime-local`, whose picker
 * follows the browser's locale (mm/dd/yyyy in en-US) and so disagrees with every date shown.
 */
const DATE_INPUT = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/;

/** The Date a date input holds, undefined when it is not one (`2026-02-30` included). */
export function parseDateInput(text: string): Date | undefined {
  const m = DATE_INPUT.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0'] = m;
  const date = new Date(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  // new Date rolls 30 February over into March: a date that moved was not a date.
  if (date.getMonth() !== Number(mo) - 1 || date.getDate() !== Number(d) || date.getHours() !== Number(h) || date.getMinutes() !== Number(mi)) return undefined;
  return date;
}

/** A date as a date input shows it (`2026-12-01 14:05`); empty for none. */
export function dateInputValue(d: DateLike): string {
  return toDate(d) ? dateTime(d) : '';
}

/** 3725 s → "1 h 02 min 05 s": the grace countdown. */
export function duration(totalMs: number): string {
  if (totalMs <= 0) return '0 s';
  const s = Math.floor(totalMs / 1000);
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (d > 0) return `${d} d ${h} h ${pad(m)} min`;
  if (h > 0) return `${h} h ${pad(m)} min ${pad(sec)} s`;
  if (m > 0) return `${m} min ${pad(sec)} s`;
  return `${sec} s`;
}
