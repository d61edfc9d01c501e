import { createRequire } from 'node:module';
import type { IncomingMessage, RequestOptions, ServerResponse } from 'node:http';
import { context, propagation, trace, type Attributes, type Span } from '@opentelemetry/api';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, SimpleSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';

export interface Tracing {
  resource: Resource;
  processor: SpanProcessor;
  /** Ends the process's tracing: spans still buffered are exported first. */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  serviceName: string;
  /** OTEL_EXPORTER_OTLP_ENDPOINT (`/v1/traces` is appended, as the OTLP spec says for the generic variable). */
  endpoint?: string;
  /** Instead of OTLP: every span to this exporter as it ends (the tests' in-memory exporter). */
  exporter?: SpanExporter;
  /** An HTTP server span's route as a bounded name (`/api-keys/{id}`), known once the response is sent. */
  routeOf?: (req: IncomingMessage, res: ServerResponse) => string | undefined;
}

let current: Tracing | undefined;

/** The process's tracing, or undefined when it is off (no provider registered, nothing instrumented). */
export function activeTracing(): Tracing | undefined {
  return current;
}

/**
 * Registers the process's tracer provider and instruments node:http (server and client) and pg.
 * Called before the process opens connections. Without an endpoint or exporter it does nothing:
 * tracing off costs nothing.
 */
export function startTracing(opts: TracingOptions): Tracing | undefined {
  if (current) return current;
  const exporter = opts.exporter ?? (opts.endpoint ? new OTLPTraceExporter({ url: `${opts.endpoint.replace(/\/+$/, '')}/v1/traces` }) : undefined);
  if (!exporter) return undefined;
  const resource = new Resource({ 'service.name': opts.serviceName });
  const processor = opts.exporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter);
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  provider.register();
  const disable = registerInstrumentations({
    instrumentations: [
      new HttpInstrumentation({
        // Spans name the route and the peer's origin, never a path or query a client chose or a
        // webhook URL's path (which often carries a token).
        startIncomingSpanHook: () => ({ 'http.url': undefined, 'http.target': undefined }) as unknown as Attributes,
        startOutgoingSpanHook: (req) => outgoingAttributes(req),
        applyCustomAttributesOnSpan: (span, req, res) => nameServerSpan(span, req, res, opts.routeOf),
        // Scrapes and probes are not traffic worth a trace.
        ignoreIncomingRequestHook: (req) => req.url === '/metrics' || req.url === '/healthz' || req.url === '/readyz',
      }),
      new PgInstrumentation({ enhancedDatabaseReporting: false }),
    ],
  });
  patchLoadedModules();
  current = {
    resource,
    processor,
    async shutdown() {
      disable();
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
      current = undefined;
    },
  };
  return current;
}

/**
 * The instrumentations patch a module when it is required; Gatehouse is ESM and imported node:http
 * and pg before this ran, so they are required here once more (the same module objects: the
 * patched prototypes reach every importer). MikroORM carries its own copy of pg.
 */
function patchLoadedModules(): void {
  const here = createRequire(import.meta.url);
  here('node:http');
  here('node:https');
  here('pg');
  createRequire(here.resolve('@mikro-orm/postgresql'))('pg');
}

function outgoingAttributes(req: RequestOptions): Attributes {
  const scheme = req.protocol ?? 'http:';
  const host = req.hostname ?? req.host ?? 'localhost';
  const port = req.port ? `:${String(req.port)}` : '';
  return { 'http.url': `${scheme}//${host}${port}`, 'http.target': undefined } as unknown as Attributes;
}

function nameServerSpan(span: Span, req: IncomingMessage | RequestOptions, res: ServerResponse | IncomingMessage, routeOf: TracingOptions['routeOf']): void {
  if (!routeOf || !('socket' in res) || !('statusCode' in res) || !('writeHead' in res)) return;
  const route = routeOf(req as IncomingMessage, res);
  if (!route) return;
  span.setAttribute('http.route', route);
  span.updateName(`${(req as IncomingMessage).method ?? 'HTTP'} ${route}`);
}

/** Runs `fn` in a span of its own when tracing is on; otherwise just runs it. */
export function inSpan<T>(name: string, fn: (span: Span | undefined) => Promise<T>): Promise<T> {
  if (!current) return fn(undefined);
  return trace.getTracer('gatehouse').startActiveSpan(name, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.setStatus({ code: 2 });
      throw err;
    } finally {
      span.end();
    }
  });
}
