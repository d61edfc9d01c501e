// Writes dist/app-router.d.ts: the server's AppRouter with every procedure's input and output
// spelled out, importing nothing but @trpc/server. tsc's own declaration emit would name the
// server's modules (MikroORM entities, the request context), which a consumer does not have.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const here = dirname(fileURLToPath(import.meta.url));
const shapeFile = join(here, 'router-shape.ts');
const outFile = join(here, '..', 'dist', 'app-router.d.ts');

const config = ts.getParsedCommandLineOfConfigFile(join(here, '..', '..', '..', 'tsconfig.json'), {}, {
  ...ts.sys,
  onUnRecoverableConfigFileDiagnostic: (d) => {
    throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  },
});
if (!config) throw new Error('tsconfig.json could not be read');
const program = ts.createProgram([shapeFile], config.options);
const checker = program.getTypeChecker();
const source = program.getSourceFile(shapeFile)!;
const problems = ts.getPreEmitDiagnostics(program, source);
if (problems.length > 0) throw new Error(ts.formatDiagnostics(problems, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => process.cwd(), getNewLine: () => '\n' }));

const FLAGS = ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.UseSingleQuotesForStringLiteralType;
const exported = new Map(checker.getExportsOfModule(checker.getSymbolAtLocation(source)!).map((s) => [s.name, checker.getTypeOfSymbolAtLocation(s, source)]));
const typeOf = (owner: ts.Type, name: string) => checker.getTypeOfSymbolAtLocation(owner.getProperty(name)!, source);

/**
 * Named unions (`EndpointStatus`) keep their name through any mapped type: union types are
 * interned, alias and all. Each is declared once in the output, spelled out.
 */
const aliases = new Map<string, string>();
function collectAliases(t: ts.Type, seen = new Set<ts.Type>()) {
  if (seen.has(t)) return;
  seen.add(t);
  const name = t.aliasSymbol?.name;
  if (name && !aliases.has(name)) {
    if (!t.isUnion() || !t.types.every((m) => m.isLiteral() || (m.flags & (ts.TypeFlags.Null | ts.TypeFlags.Undefined | ts.TypeFlags.BooleanLiteral)) !== 0)) {
      throw new Error(`${name}: only unions of literals are expected to keep a name; extend Expand in router-shape.ts`);
    }
    aliases.set(name, checker.typeToString(t, undefined, FLAGS | ts.TypeFormatFlags.InTypeAlias));
  }
  if (t.isUnionOrIntersection()) t.types.forEach((m) => collectAliases(m, seen));
  for (const arg of checker.getTypeArguments(t as ts.TypeReference) ?? []) collectAliases(arg, seen);
  if (t.flags & ts.TypeFlags.Object) for (const p of checker.getPropertiesOfType(t)) collectAliases(checker.getTypeOfSymbolAtLocation(p, source), seen);
  for (const info of checker.getIndexInfosOfType(t)) collectAliases(info.type, seen);
}

const PROCEDURE = { query: 'Query', mutation: 'Mutation', subscription: 'Subscription' } as const;
function record(t: ts.Type, indent: string): string {
  const lines = checker.getPropertiesOfType(t).map((p) => {
    const pt = checker.getTypeOfSymbolAtLocation(p, source);
    if (!pt.getProperty('kind')) return `${indent}  ${p.name}: ${record(pt, `${indent}  `)};`;
    const kind = (typeOf(pt, 'kind') as ts.StringLiteralType).value as keyof typeof PROCEDURE;
    const [input, output] = [typeOf(pt, 'input'), typeOf(pt, 'output')];
    collectAliases(input);
    collectAliases(output);
    return `${indent}  ${p.name}: ${PROCEDURE[kind]}<${checker.typeToString(input, undefined, FLAGS)}, ${checker.typeToString(output, undefined, FLAGS)}>;`;
  });
  return `{\n${lines.join('\n')}\n${indent}}`;
}

const procedures = record(exported.get('procedures')!, '');
const errorShape = checker.typeToString(exported.get('errorShape')!, undefined, FLAGS);
const leftover = /import\(/.exec(procedures + errorShape);
if (leftover) throw new Error('a server type is still named by module: extend Expand in router-shape.ts');

const text = `// Generated from server/routers/_app.ts by packages/client/scripts/emit-router-types.ts: do not edit.
import type { TRPCBuiltRouter, TRPCDecorateCreateRouterOptions, TRPCMutationProcedure, TRPCQueryProcedure, TRPCSubscriptionProcedure, TRPC_ERROR_CODE_NUMBER } from '@trpc/server';

type ErrorShape = ${errorShape};
type Query<I, O> = TRPCQueryProcedure<{ input: I; output: O; meta: object; errorShape: ErrorShape }>;
type Mutation<I, O> = TRPCMutationProcedure<{ input: I; output: O; meta: object; errorShape: ErrorShape }>;
type Subscription<I, O> = TRPCSubscriptionProcedure<{ input: I; output: AsyncIterable<O, void, unknown>; meta: object; errorShape: ErrorShape }>;
${[...aliases].map(([name, def]) => `type ${name} = ${def};`).join('\n')}

/** Every procedure of Gatehouse's tRPC API, with its input and (JSON-serialised) output. */
export type AppRouter = TRPCBuiltRouter<{ ctx: object; meta: object; errorShape: ErrorShape; transformer: false }, TRPCDecorateCreateRouterOptions<${procedures}>>;
`;
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, text);
console.log(`${outFile}: ${aliases.size} named unions, ${text.length} characters`);
