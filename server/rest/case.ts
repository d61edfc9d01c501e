import { HttpError } from '../../core/errors.js';

// Core speaks camelCase; REST bodies are snake_case. The mapping between them lives here, once.
// Keys are renamed only where the shape is known: a value under an opaque key (user data such as
// metadata, payload, schema, example, changes) is passed through as it is, keys and all.

/**
 * Names the capital rule cannot derive, a word that starts with a digit: `errors4xx` → `errors_4xx`
 * (while `p95LatencyMs` → `p95_latency_ms`). `toCamel` needs no such list: `errors_4xx` → `errors4xx`.
 */
const SNAKE_NAMES = { errors4xx: 'errors_4xx', errors5xx: 'errors_5xx' } as const;
type SnakeNames = typeof SNAKE_NAMES;

/** `latencyMs` → `latency_ms`: an underscore before each capital, which is lowered (and `SNAKE_NAMES`). */
export type SnakeCase<S extends string> = S extends keyof SnakeNames ? SnakeNames[S] : SnakeCaseRule<S>;
type SnakeCaseRule<S extends string> = S extends `${infer Head}${infer Tail}`
  ? Tail extends Uncapitalize<Tail>
    ? `${Lowercase<Head>}${SnakeCaseRule<Tail>}`
    : `${Lowercase<Head>}_${SnakeCaseRule<Tail>}`
  : S;

/** `latency_ms` → `latencyMs`. */
export type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}` ? `${Head}${Capitalize<CamelCase<Tail>>}` : S;

/** The object with its own keys in snake_case; values untouched. */
export type SnakeKeys<T> = { [K in keyof T as K extends string ? SnakeCase<K> : K]: T[K] };
/** The object with its own keys in camelCase; values untouched. */
export type CamelKeys<T> = { [K in keyof T as K extends string ? CamelCase<K> : K]: T[K] };

/** Keys whose values are user data: never renamed inside, in either direction. */
export const OPAQUE_KEYS = ['metadata', 'payload', 'schema', 'example', 'changes'] as const;
type Opaque = (typeof OPAQUE_KEYS)[number];

/** Snake_case all the way down, except below an opaque key (`O`); arrays walked; Dates kept, or ISO strings when `Iso`. */
type SnakeDeep<T, O extends string, Iso extends boolean> = T extends Date
  ? Iso extends true
    ? string
    : T
  : T extends readonly (infer E)[]
    ? SnakeDeep<E, O, Iso>[]
    : T extends object
      ? { [K in keyof T as K extends string ? SnakeCase<K> : K]: K extends O ? T[K] : SnakeDeep<T[K], O, Iso> }
      : T;

/** Snake_case all the way down, except below an opaque key (or one of `opaque`). Arrays are walked; Dates stay Dates. */
export type DeepSnakeKeys<T, O extends string = Opaque> = SnakeDeep<T, O, false>;

export const toSnake = (key: string): string =>
  Object.hasOwn(SNAKE_NAMES, key) ? SNAKE_NAMES[key as keyof SnakeNames] : key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
export const toCamel = (key: string): string => key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function renameOwn(value: object, rename: (key: string) => string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[rename(k)] = v;
  return out;
}

/** One object's own keys to snake_case; its values (nested objects too) as they are. */
export function snakeKeys<T extends object>(value: T): SnakeKeys<T> {
  return renameOwn(value, toSnake) as SnakeKeys<T>;
}

/** One object's own keys to camelCase (a REST query or body for core); its values as they are. */
export function camelKeys<T extends object>(value: T): CamelKeys<T> {
  return renameOwn(value, toCamel) as CamelKeys<T>;
}

const isPlain = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;

/**
 * A view to snake_case through nested objects and arrays, leaving every value under an opaque key
 * (`OPAQUE_KEYS`, or the list given) exactly as it is: user data keeps the keys its owner chose.
 */
export function snakeKeysDeep<T, O extends string = Opaque>(value: T, opaque: readonly O[] = OPAQUE_KEYS as unknown as readonly O[]): DeepSnakeKeys<T, O> {
  return snakeWalk(value, new Set<string>(opaque), false) as DeepSnakeKeys<T, O>;
}

/** The one walk behind snakeKeysDeep and snakeJson: keys renamed outside `skip`, Dates kept or made ISO strings. */
function snakeWalk(value: unknown, skip: ReadonlySet<string>, isoDates: boolean): unknown {
  const walk = (v: unknown): unknown => {
    if (isoDates && v instanceof Date) return v.toISOString();
    if (Array.isArray(v)) return v.map(walk);
    if (!isPlain(v)) return v;
    const out: Record<string, unknown> = {};
    for (const [k, inner] of Object.entries(v)) out[toSnake(k)] = skip.has(k) ? inner : walk(inner);
    return out;
  };
  return walk(value);
}

/** `DeepSnakeKeys`, with each Date (outside user data) as the ISO string JSON gives it. */
export type JsonSnakeKeys<T, O extends string = Opaque> = SnakeDeep<T, O, true>;

/**
 * A core view as its REST body: `snakeKeysDeep`, and each Date becomes its ISO string (what
 * `toISOString` and JSON write), so the body is typed as the route's response schema says.
 */
export function snakeJson<T, O extends string = Opaque>(value: T, opaque: readonly O[] = OPAQUE_KEYS as unknown as readonly O[]): JsonSnakeKeys<T, O> {
  return snakeWalk(value, new Set<string>(opaque), true) as JsonSnakeKeys<T, O>;
}

/** A problem core reports about a field (`{ field: 'keyId', message: 'keyId: …' }`), named for REST (`key_id`). */
export function snakeField<T extends { field?: string; message: string }>(problem: T): T {
  if (problem.field === undefined) return problem;
  const field = problem.field.split('.').map(toSnake).join('.');
  const message = problem.message.startsWith(`${problem.field}:`) ? field + problem.message.slice(problem.field.length) : problem.message;
  return { ...problem, field, message };
}

/**
 * Core names the field of an error in camelCase (`windowSeconds: required …`); a REST client sent
 * `window_seconds`, so the field, and the message that starts with it, are renamed on the way out.
 */
export async function snakeErrors<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (!(err instanceof HttpError) || err.field === undefined) throw err;
    const { field, message } = snakeField({ field: err.field, message: err.message });
    if (field === err.field) throw err;
    const renamed = new HttpError(err.status, err.code, message, field, err.headers);
    renamed.stack = err.stack;
    throw renamed;
  }
}
