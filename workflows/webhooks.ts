// Webhook workflows, gathered so workflows/index.ts lists them with one line.
export * from './delivery.js';
export * from './fanout.js';
export * from './outbox-sweep.js';
export * from './recover.js';
