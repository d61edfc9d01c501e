import { check, type FormErrors } from '../../lib/form-errors.js';
import { parseDateInput } from '../../lib/format.js';
import type { Inputs } from '../../lib/trpc.js';

export type LogKind = 'traffic' | 'management' | 'all';
export type LogSource = 'api' | 'ui' | 'verification' | 'service';

/** The request log's filters as the form holds them and the address keeps them (`#/logs?status=4xx&from=2026-12-01`). */
export interface LogFilters {
  keyId: string;
  route: string;
  method: string;
  status: string;
  kind: LogKind;
  source: '' | LogSource;
  /** As typed: `2026-12-01 14:05`, read in the browser's time zone. */
  from: string;
  to: string;
}

export const NO_LOG_FILTERS: LogFilters = { keyId: '', route: '', method: '', status: '', kind: 'traffic', source: '', from: '', to: '' };

const KINDS: LogKind[] = ['traffic', 'management', 'all'];
const SOURCES: LogSource[] = ['api', 'ui', 'verification', 'service'];

export function logFiltersOf(query: URLSearchParams): LogFilters {
  const kind = query.get('kind') as LogKind;
  const source = query.get('source') as LogSource;
  return {
    keyId: query.get('key') ?? '',
    route: query.get('route') ?? '',
    method: query.get('method') ?? '',
    status: query.get('status') ?? '',
    kind: KINDS.includes(kind) ? kind : 'traffic',
    source: SOURCES.includes(source) ? source : '',
    from: query.get('from') ?? '',
    to: query.get('to') ?? '',
  };
}

/** The address's query: defaults left out, so the plain log is `#/logs`. */
export function logFiltersQuery(f: LogFilters): Record<string, string> {
  return {
    key: f.keyId.trim(),
    route: f.route.trim(),
    method: f.method,
    status: f.status.trim(),
    kind: f.kind === 'traffic' ? '' : f.kind,
    source: f.source,
    from: f.from.trim(),
    to: f.to.trim(),
  };
}

/** What the form can tell is wrong before asking, all at once. */
export function checkLogFilters(f: LogFilters): FormErrors {
  const from = f.from.trim() ? parseDateInput(f.from) : null;
  const to = f.to.trim() ? parseDateInput(f.to) : null;
  return check([
    ['status', f.status.trim() !== '' && !/^([1-5]xx|[1-5]\d\d)$/.test(f.status.trim()), 'Write a status such as 404, or a class such as 4xx.'],
    ['from', from === undefined, 'Not a date and time. Write it as 2026-12-01 14:05.'],
    ['to', to === undefined, 'Not a date and time. Write it as 2026-12-01 18:00.'],
    ['to', !!from && !!to && to.getTime() < from.getTime(), 'Must be after “From”.'],
  ]);
}

/** The search's input; call only once checkLogFilters found nothing. */
export function logSearchInput(f: LogFilters): Exclude<Inputs['logs']['search'], void | undefined> {
  return {
    keyId: f.keyId.trim() || undefined,
    route: f.route.trim() || undefined,
    method: f.method || undefined,
    status: f.status.trim() || undefined,
    kind: f.kind,
    source: f.source || undefined,
    from: f.from.trim() ? parseDateInput(f.from)?.toISOString() : undefined,
    to: f.to.trim() ? parseDateInput(f.to)?.toISOString() : undefined,
    limit: 100,
  };
}
