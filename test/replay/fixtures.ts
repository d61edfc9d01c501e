import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { History } from '@temporalio/common/lib/proto-utils.js';

// @temporalio/common's historyToJSON / historyFromJSON (which Worker.runReplayHistory calls on a
// JSON history) throw "type must be a Type" in this install: @temporalio/common and
// @temporalio/proto each get their own copy of protobufjs 8 (the top level holds grpc's
// protobufjs 7), and protojson's `instanceof Type` fails across copies. The same conversion with
// the protojson of the copy @temporalio/proto's types were built with gives the same canonical
// proto JSON (what `temporal workflow show --output json` writes) and reads it back.
const requireHere = createRequire(import.meta.url);
const requireBesideProto = createRequire(requireHere.resolve('@temporalio/proto'));
interface ProtoType {
  readonly fullName: string;
}
const protojson = requireBesideProto('protobufjs/ext/protojson') as {
  toJson(type: ProtoType, message: unknown): unknown;
  fromJson(type: ProtoType, json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
};
const { patchProtobufRoot } = requireHere('@temporalio/proto/lib/patch-protobuf-root') as {
  patchProtobufRoot<T>(root: T): T & { lookupType(name: string): ProtoType };
};
const historyType = patchProtobufRoot(requireHere('@temporalio/proto') as Record<string, unknown>).lookupType('temporal.api.history.v1.History');

/** A fetched history as canonical proto JSON, indented for readable diffs. */
export function historyToJson(history: History): string {
  return `${JSON.stringify(protojson.toJson(historyType, history), null, 2)}\n`;
}

/** Proto JSON back to the History message a replay worker takes. */
export function historyFromJson(json: unknown): History {
  return protojson.fromJson(historyType, json, { ignoreUnknownFields: true }) as History;
}

/** Recorded workflow histories, `<workflow>-<case>.json`, in Temporal's proto JSON form (as `temporal workflow show --output json` writes). */
export const HISTORIES_DIR = fileURLToPath(new URL('./histories/', import.meta.url));

export interface Fixture {
  /** The file name without `.json`: `<workflow>-<case>`. */
  name: string;
  text: string;
  /** As written: proto JSON. */
  json: { events: Record<string, unknown>[] };
  history: History;
}

export function loadFixtures(): Fixture[] {
  return readdirSync(HISTORIES_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const text = readFileSync(HISTORIES_DIR + file, 'utf8');
      const json = JSON.parse(text) as Fixture['json'];
      return { name: file.slice(0, -'.json'.length), text, json, history: historyFromJson(json) };
    });
}

/** The workflow type a history ran, from its first event. */
export function workflowTypeOf(history: History): string | undefined {
  return history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? undefined;
}

/** The kinds of secret Gatehouse hands out: webhook signing secrets and API keys (`<prefix>_sk_<env>_…`). */
export const SECRET_PATTERN = /whsec_|_sk_/;

/**
 * Every text a history carries, payloads decoded: a payload's `data` is base64 JSON, so a secret
 * inside one would not show in the file as written.
 */
export function textsOf(value: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o['data'] === 'string' && 'metadata' in o) out.push(Buffer.from(o['data'], 'base64').toString('utf8'));
      Object.values(o).forEach(walk);
    }
  };
  walk(value);
  return out;
}
