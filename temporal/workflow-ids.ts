// Every workflow id and Schedule id Gatehouse uses, one builder per kind. Ids say what they run
// (an operator finds them in the Temporal Web UI) and make starts idempotent, so a format lives
// here only: SQL that stores an id takes it from these functions, never spells it again.
// Pure string functions: workflow code may import them too.

/**
 * The workflow of rotation `n` of a key. Named by the key's primary key, not its id: an id can be
 * deleted and taken again, and the new key's rotation 1 must not be mistaken for the old key's
 * (whose finished workflow would answer for it while the new key's old secret stayed valid).
 */
export function rotationWorkflowId(workspaceId: string, keyPk: string, rotation: number): string {
  return `rotation:${workspaceId}:${keyPk}:${rotation}`;
}

/**
 * What rotations started before ids named the primary key are called. Only looked up, never
 * started: the name may belong to an earlier key that had the same id.
 */
export function legacyRotationWorkflowId(workspaceId: string, keyId: string, rotation: number): string {
  return `rotation:${workspaceId}:${keyId}:${rotation}`;
}

/**
 * Everything of a delivery's workflow id before the endpoint id: the outbox insert writes
 * `prefix || endpoint.id` for every subscribed endpoint in one statement.
 */
export function deliveryWorkflowIdPrefix(eventId: string): string {
  return `delivery:${eventId}:`;
}

/** One event to one endpoint; a replay is a new run of the same id. */
export function deliveryWorkflowId(eventId: string, endpointId: string): string {
  return deliveryWorkflowIdPrefix(eventId) + endpointId;
}

/** The fan-out of one event: a second start for the same event finds the first. */
export function fanoutWorkflowId(eventId: string): string {
  return `fanout:${eventId}`;
}

/** Recovery `n` of an endpoint (its `recovery_count`). */
export function recoveryWorkflowId(endpointId: string, n: number): string {
  return `recover:${endpointId}:${n}`;
}

/** `system.selfTest`: one per call, hence the caller's unique suffix. */
export function selfTestWorkflowId(workspaceId: string, unique: string): string {
  return `selftest:${workspaceId}_${unique}`;
}

/**
 * An operator's "rotate now": one fixed id, so a second request while it runs (its publication
 * or grace wait included) is refused rather than stacked. Scheduled rotations are named after their
 * Schedule, which appends the start time.
 */
export function signingKeyRotationWorkflowId({ TEMPORAL_TASK_QUEUE: taskQueue }: { TEMPORAL_TASK_QUEUE: string }): string {
  return `signing-key-rotation:${taskQueue}:now`;
}

/**
 * Schedule ids carry the task queue, so deployments (and test files) sharing a namespace never
 * collide. A Schedule's workflow is named after its Schedule (Temporal appends the start time).
 */
export function scheduleIds({ TEMPORAL_TASK_QUEUE: taskQueue }: { TEMPORAL_TASK_QUEUE: string }) {
  return {
    keyReminders: `key-reminders:${taskQueue}`,
    monthlyUsage: `usage-monthly-rollup:${taskQueue}`,
    usagePartitions: `usage-partitions:${taskQueue}`,
    outboxSweep: `outbox-sweep:${taskQueue}`,
    limitRequestExpiry: `limit-request-expiry:${taskQueue}`,
    signingKeyRotation: `signing-key-rotation:${taskQueue}`,
  } as const;
}
