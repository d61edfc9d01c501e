import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { z } from 'zod';
import { json, typedDb } from '../../db/kysely.js';
import { recordAudit, type AuditActor } from '../audit.js';
import { HttpError } from '../errors.js';
import { DocumentInvalid, documentProblems, isHeaderName, keyPlacementOf, MAX_DOCUMENT_BYTES, parseDocumentText, type KeyScheme, type OpenApiDocument } from './document.js';
import { groupByTag, operationsOf, type OperationGroup, type OperationView } from './operations.js';

/** One provider API per install (docs/playground.md). */
const ROW_ID = 'default';

export const baseUrlSchema = z
  .string({ error: 'expected the URL the API answers at, such as https://api.example.com' })
  .max(2048, 'at most 2048 characters')
  .refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol), 'expected an http:// or https:// URL')
  .refine((v) => !URL.canParse(v) || (!new URL(v).username && !new URL(v).password), 'credentials in the URL are not allowed')
  .refine((v) => !URL.canParse(v) || (!new URL(v).search && !new URL(v).hash), 'no query string or fragment; operations add their own');

export const registerInput = z.strictObject({
  document: z.string({ error: 'expected the OpenAPI document as text (JSON or YAML)' }).min(1, 'expected the OpenAPI document as text (JSON or YAML)')
    .meta({ description: `At most ${MAX_DOCUMENT_BYTES / 1024 / 1024} MB (a 413 naming document beyond).` }),
  baseUrl: baseUrlSchema,
  /** Overrides the header the document's security scheme names (the key is sent as is in it). */
  keyHeader: z.string().refine(isHeaderName, 'expected a header name such as x-api-key (not a hop-by-hop, cookie or host header)').optional(),
});
export type RegisterInput = z.infer<typeof registerInput>;

export interface ProviderApiView {
  title: string;
  version: string;
  baseUrl: string;
  keyHeader: string;
  keyScheme: KeyScheme;
  operationCount: number;
  updatedAt: string;
  updatedBy: string;
}

export interface ProviderApiRecord extends ProviderApiView {
  document: OpenApiDocument;
}

async function load(em: EntityManager): Promise<ProviderApiRecord | undefined> {
  const row = await typedDb(em)
    .selectFrom('provider_api')
    .select(['title', 'version', 'base_url', 'document', 'key_header', 'key_scheme', 'updated_at', 'updated_by'])
    .where('id', '=', ROW_ID)
    .executeTakeFirst();
  if (!row) return undefined;
  const document = row.document as OpenApiDocument;
  return {
    title: row.title,
    version: row.version,
    baseUrl: row.base_url,
    keyHeader: row.key_header,
    keyScheme: row.key_scheme as KeyScheme,
    operationCount: operationsOf(document).length,
    updatedAt: new Date(row.updated_at).toISOString(),
    updatedBy: row.updated_by,
    document,
  };
}

function view({ document: _document, ...rest }: ProviderApiRecord): ProviderApiView {
  return rest;
}

export async function getProviderApi(em: EntityManager): Promise<ProviderApiView | null> {
  const found = await load(em);
  return found ? view(found) : null;
}

/** The registered API with its document, for the proxy; a 404 when none is registered. */
export async function requireProviderApi(em: EntityManager): Promise<ProviderApiRecord> {
  const found = await load(em);
  if (!found) throw noApi();
  return found;
}

/**
 * Validates the document (problems by path: DocumentInvalid) and stores it, replacing any earlier
 * one. Audited in the operator's own workspace, like plans: it belongs to no customer.
 */
export async function registerProviderApi(em: EntityManager, actor: AuditActor, input: RegisterInput): Promise<ProviderApiView> {
  const document = parseDocumentText(input.document);
  const problems = await documentProblems(document);
  if (problems.length) throw new DocumentInvalid(problems);
  const info = (document['info'] ?? {}) as { title?: unknown; version?: unknown };
  const placement = input.keyHeader ? { keyHeader: input.keyHeader.toLowerCase(), keyScheme: 'header' as const } : keyPlacementOf(document);
  const title = String(info.title ?? '').slice(0, 200);
  const version = String(info.version ?? '').slice(0, 64);
  return em.transactional(async (tx) => {
    const values = {
      title,
      version,
      base_url: input.baseUrl,
      document: json(document),
      source: input.document,
      key_header: placement.keyHeader,
      key_scheme: placement.keyScheme,
      updated_at: sql<Date>`clock_timestamp()`,
      updated_by: actor.keyId.slice(0, 128),
    };
    await typedDb(tx)
      .insertInto('provider_api')
      .values({ id: ROW_ID, ...values })
      .onConflict((oc) => oc.column('id').doUpdateSet(values))
      .execute();
    const changes = { title, version, base_url: input.baseUrl, key_header: placement.keyHeader, key_scheme: placement.keyScheme, operations: operationsOf(document).length };
    await recordAudit(tx, actor, { workspaceId: actor.workspaceId, action: 'provider_api.registered', targetType: 'provider_api', targetId: ROW_ID, changes });
    return view((await load(tx))!);
  });
}

export async function removeProviderApi(em: EntityManager, actor: AuditActor): Promise<void> {
  await em.transactional(async (tx) => {
    const removed = await typedDb(tx).deleteFrom('provider_api').where('id', '=', ROW_ID).executeTakeFirst();
    if (Number(removed.numDeletedRows) === 0) throw noApi();
    await recordAudit(tx, actor, { workspaceId: actor.workspaceId, action: 'provider_api.removed', targetType: 'provider_api', targetId: ROW_ID });
  });
}

export function noApi(): HttpError {
  return new HttpError(404, 'not_found', 'no provider API is registered: an operator registers one on the Provider API page (PUT /settings/provider-api)');
}

/** What the playground offers a customer: the operations by tag, and the components their schemas refer to. */
export interface PlaygroundApi {
  title: string;
  version: string;
  baseUrl: string;
  keyHeader: string;
  keyScheme: KeyScheme;
  groups: OperationGroup[];
  /** The document's `components`, so `$ref`s in the operations' schemas resolve in the browser. */
  components: Record<string, unknown>;
}

export async function playgroundApi(em: EntityManager): Promise<PlaygroundApi | null> {
  const found = await load(em);
  if (!found) return null;
  // jsonb keeps no key order: the uploaded text gives the operations in the order the provider wrote them.
  const source = await typedDb(em).selectFrom('provider_api').select('source').where('id', '=', ROW_ID).executeTakeFirst();
  const ordered = source ? parseDocumentText(source.source) : found.document;
  const operations: OperationView[] = operationsOf(ordered);
  return {
    title: found.title,
    version: found.version,
    baseUrl: found.baseUrl,
    keyHeader: found.keyHeader,
    keyScheme: found.keyScheme,
    groups: groupByTag(ordered, operations),
    components: (ordered['components'] ?? {}) as Record<string, unknown>,
  };
}
