// The worker's workflow bundle entry: every workflow Gatehouse runs is exported here.
export * from './diagnostics.js';
export * from './rotation.js';
export * from './key-reminders.js';
export * from './webhooks.js';
export * from './monthly-rollup.js';
export * from './usage-partitions.js';
export * from './limit-request-expiry.js';
export * from './signing-keys.js';
