import { z } from 'zod';
import { invalidPermission } from '../permissions.js';

/**
 * An object that refuses unknown fields by name (`body.permisions: unknown field`), where zod's
 * strictObject would report them at the root with no field to point at.
 */
export function closedObject<T extends z.core.$ZodLooseShape>(shape: T): z.ZodObject<T, z.core.$strict> {
  // Same contract as strictObject (and typed as one: a value with an unknown key never parses),
  // but each unknown key is its own issue whose path is the key.
  // Not for .extend(): the check would call the added keys unknown; write a new closedObject instead.
  return z.looseObject(shape).superRefine((value, ctx) => {
    for (const key of Object.keys(value)) {
      if (!Object.hasOwn(shape, key)) ctx.addIssue({ code: 'custom', path: [key], message: 'unknown field; check its spelling' });
    }
  }).meta({ additionalProperties: false }) as unknown as z.ZodObject<T, z.core.$strict>;
}

/**
 * The validators every face of the key API shares (tRPC in camelCase, REST in snake_case), so
 * both refuse the same input with the same words.
 */

/**
 * Key ids are chosen by people (`api-key-produccion-2024`, and the seed's own `api-key-integración-crm`),
 * so accented Latin letters are welcome. NFKC first, so `ó` typed as `o` + U+0301 or a full-width
 * `Ａ` is the same id as its plain form; other scripts, emoji, spaces, `/` and control characters are
 * refused, which keeps ids safe in URLs, logs and look-alike free.
 */
const KEY_ID_RE = /^[\p{Script=Latin}0-9][\p{Script=Latin}0-9_.-]{0,127}$/u;
export const KEY_ID_RULE =
  "1-128 characters: letters (accented Latin letters such as ó or ñ included), digits, '_', '-' and '.', starting with a letter or digit";

export const keyIdSchema = z
  .string({ error: 'expected a string' })
  .transform((s) => s.normalize('NFKC'))
  .pipe(z.string().regex(KEY_ID_RE, KEY_ID_RULE))
  .meta({ description: `Key id, unique in the workspace. ${KEY_ID_RULE}.`, example: 'api-key-produccion-2024' });

export const environmentSchema = z
  .enum(['live', 'test'])
  .meta({ description: 'Written into the secret (`gate_sk_live_…`); cannot change later.', example: 'live' });

export const nameSchema = z
  .string()
  .trim()
  .max(200, 'at most 200 characters')
  // eslint-disable-next-line no-control-regex
  .regex(/^[^\u0000-\u001f\u007f]*$/, 'no control characters')
  .meta({ description: 'A label for people; not unique.', example: 'Producción 2024' });

export const permissionsSchema = z
  .array(
    z.string().superRefine((value, ctx) => {
      const problem = invalidPermission(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  )
  .max(50, 'at most 50 permissions')
  .transform((list) => [...new Set(list)])
  .meta({
    description:
      'Presets `read-only`, `write`, `admin`, Gatehouse scopes (`keys:read`…), or your own `resource:action` scopes such as `products:write` (`products:*` for every action). A key grants only what it holds itself.',
    example: ['read-only', 'products:write'],
  });

const RATE_NAME_RE = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
const MAX_WINDOW_SECONDS = 31 * 24 * 3600;
const INT32 = 2_147_483_647;

export const rateLimitSchema = closedObject({
  name: z
    .string()
    .regex(RATE_NAME_RE, 'lowercase letters, digits, "_", "-" and ".", 1-64 characters')
    .optional()
    .meta({ description: 'Names the limit in warnings and headers; defaults to the window, e.g. `60s`.', example: 'per-minute' }),
  limit: z.number().int('expected an integer').min(1, 'at least 1').max(1_000_000_000, 'at most 1000000000').meta({ example: 100 }),
  windowSeconds: z
    .number()
    .int('expected an integer')
    .min(1, 'at least 1 second')
    .max(MAX_WINDOW_SECONDS, 'at most 31 days (2678400 seconds)')
    .meta({ example: 60 }),
});

export type RateLimitInput = z.output<typeof rateLimitSchema>;

/** Names default to the window; two limits with one name could not be told apart in a warning. */
export function normalizeRateLimits(limits: RateLimitInput[]): { name: string; limit: number; windowSeconds: number }[] {
  return limits.map((l) => ({ name: l.name ?? `${l.windowSeconds}s`, limit: l.limit, windowSeconds: l.windowSeconds }));
}

export function duplicateRateLimitName(limits: RateLimitInput[]): string | undefined {
  const seen = new Set<string>();
  for (const l of normalizeRateLimits(limits)) {
    if (seen.has(l.name)) return l.name;
    seen.add(l.name);
  }
  return undefined;
}

export const rateLimitsSchema = z
  .array(rateLimitSchema)
  .max(10, 'at most 10 rate limits')
  .superRefine((limits, ctx) => {
    const dup = duplicateRateLimitName(limits);
    if (dup) ctx.addIssue({ code: 'custom', message: `two rate limits are named '${dup}'; give each a distinct name` });
  });

export const creditsRemainingSchema = z
  .number()
  .int('expected an integer')
  .min(0, 'at least 0')
  .max(INT32, `at most ${INT32}`)
  .meta({ description: 'Credits left; each verification that passes its rate limits spends one (or its cost).', example: 1000 });

export const refillSchema = closedObject({
  amount: z.number().int('expected an integer').min(1, 'at least 1').max(INT32, `at most ${INT32}`).meta({ example: 1000 }),
  interval: z.enum(['daily', 'monthly']).meta({ description: 'Credits are reset to `amount` every day or month (UTC).' }),
});

export const creditsSchema = closedObject({
  remaining: creditsRemainingSchema,
  refill: refillSchema.nullable().optional(),
});

export type CreditsInput = z.output<typeof creditsSchema>;

export const expiresAtSchema = z.iso
  .datetime({ offset: true, error: 'expected an ISO 8601 date-time such as 2030-01-31T00:00:00Z' })
  .transform((s) => new Date(s))
  .meta({ description: 'When the key stops working (must be in the future); null for never.', example: '2030-01-31T00:00:00Z' });

export const ipAllowlistSchema = z
  .array(
    z.union([z.cidrv4(), z.cidrv6(), z.ipv4(), z.ipv6()], {
      error: 'expected an IPv4/IPv6 address or CIDR block such as 203.0.113.0/24',
    }),
  )
  .max(100, 'at most 100 entries')
  .meta({ description: 'Addresses or CIDR blocks the key may be used from; empty allows any.', example: ['203.0.113.0/24', '2001:db8::/32'] });

export const rotationPolicyDaysSchema = z
  .number()
  .int('expected an integer')
  .min(1, 'at least 1 day')
  .max(3650, 'at most 3650 days')
  .meta({ description: 'Remind (event `key.rotation_due`) when the secret is older than this many days; null for no policy.', example: 90 });

const METADATA_MAX = 8192;
export const metadataSchema = z
  .record(z.string(), z.unknown())
  .superRefine((value, ctx) => {
    if (JSON.stringify(value).length > METADATA_MAX) ctx.addIssue({ code: 'custom', message: `at most ${METADATA_MAX} bytes of JSON` });
  })
  .meta({ description: 'Your own JSON object, returned as given (at most 8 KB).', example: { team: 'crm', owner: 'ana@example.com' } });

export const enabledSchema = z.boolean().meta({ description: 'A disabled key fails verification with `DISABLED` until enabled again.' });

/** The tRPC (camelCase) shapes; REST builds its snake_case ones from the same parts. */
export const createKeyInput = closedObject({
  id: keyIdSchema.nullish(),
  name: nameSchema.optional(),
  environment: environmentSchema.optional(),
  permissions: permissionsSchema.optional(),
  rateLimits: rateLimitsSchema.optional(),
  credits: creditsSchema.nullish(),
  expiresAt: expiresAtSchema.nullish(),
  ipAllowlist: ipAllowlistSchema.optional(),
  rotationPolicyDays: rotationPolicyDaysSchema.nullish(),
  metadata: metadataSchema.optional(),
  enabled: enabledSchema.optional(),
});
export type CreateKeyInput = z.output<typeof createKeyInput>;

export const updateKeyFields = closedObject({
  name: nameSchema.optional(),
  permissions: permissionsSchema.optional(),
  rateLimits: rateLimitsSchema.optional(),
  credits: creditsSchema.nullable().optional(),
  expiresAt: expiresAtSchema.nullable().optional(),
  ipAllowlist: ipAllowlistSchema.optional(),
  rotationPolicyDays: rotationPolicyDaysSchema.nullable().optional(),
  metadata: metadataSchema.optional(),
  enabled: enabledSchema.optional(),
});
export type UpdateKeyInput = z.output<typeof updateKeyFields>;

export const keyStatusSchema = z
  .enum(['active', 'disabled', 'expired', 'revoked'])
  .meta({ description: '`active`: usable; `disabled`: enabled=false; `expired`: past expires_at; `revoked`: revoked for good.' });
export type KeyStatus = z.output<typeof keyStatusSchema>;

export const listLimitSchema = z.coerce
  .number({ error: 'expected a number' })
  .int('expected an integer')
  .min(1, 'at least 1')
  .max(500, 'at most 500');

/** A list's status filter: a key's status, or `current` for every key not revoked (the UI's default view, revoked keys apart). */
export const listStatusSchema = z
  .enum([...keyStatusSchema.options, 'current'])
  .meta({ description: 'A status (`active`, `disabled`, `expired`, `revoked`), or `current`: every key not revoked.' });

export const listKeysInput = closedObject({
  environment: environmentSchema.optional(),
  status: listStatusSchema.optional(),
  permission: z.string().max(130).optional().meta({ description: 'Keys holding this permission, directly or through a preset.', example: 'keys:write' }),
  search: z.string().max(128).optional().meta({ description: 'Case-insensitive part of the id or name.', example: 'produccion' }),
  limit: listLimitSchema.optional(),
  cursor: z.string().max(400).optional(),
});
export type ListKeysInput = z.output<typeof listKeysInput>;
