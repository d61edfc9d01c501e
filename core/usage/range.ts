import { badRequest } from '../errors.js';
import { thisMonth, type Range } from './queries.js';

/**
 * [from, to), defaulting to this calendar month (UTC); to must follow from. Only one end given:
 * the range keeps a month's length on the other side (up to now, when `from` is given).
 */
export function resolveRange(q: { from?: Date; to?: Date }, now = new Date()): Range {
  const month = thisMonth(now);
  const from = q.from ?? (q.to ? new Date(q.to.getTime() - (month.to.getTime() - month.from.getTime())) : month.from);
  const to = q.to ?? (q.from ? new Date(Math.max(now.getTime(), from.getTime() + 1)) : month.to);
  if (to <= from) throw badRequest('to: must be later than from', 'to');
  return { from, to };
}
