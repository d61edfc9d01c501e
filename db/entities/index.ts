import { ApiKey } from './api-key.js';
import { AuditEntry } from './audit-entry.js';
import { ApiKeySecret } from './api-key-secret.js';
import { Event } from './event.js';
import { Workspace } from './workspace.js';
import { UiSession } from './ui-session.js';
import { PortalLink } from './portal-link.js';
import { LimitRequest } from './limit-request.js';
import { UsageDay, UsageHour, UsageMinute, UsageMonth, UsageMonthPlan, UsageRecord } from './usage.js';
import { Plan } from './plan.js';
import { WorkspaceQuota, WorkspaceRateCounter } from './workspace-counters.js';
import { RateLimitCounter, UNLOGGED_TABLES } from './rate-limit-counter.js';
import { webhookEntities } from './webhooks.js';

export { ApiKey, ApiKeySecret, Event, Workspace };
export { AuditEntry };
export type { IAuditEntry } from './audit-entry.js';
export { UiSession, PortalLink };
export { LimitRequest, UsageDay, UsageHour, UsageMinute, UsageMonth, UsageMonthPlan, UsageRecord };
export { Plan, WorkspaceQuota, WorkspaceRateCounter };
export type { IPlan, PlanRateLimit } from './plan.js';
export type { PlanOverrides } from './workspace.js';
export { RateLimitCounter, UNLOGGED_TABLES };
export type { IRateLimitCounter } from './rate-limit-counter.js';
export type { ILimitRequest, LimitRequestKind, LimitRequestStatus } from './limit-request.js';
export type { IApiKey, RateLimit, RefillInterval } from './api-key.js';
export type { IApiKeySecret } from './api-key-secret.js';
export type { IEvent } from './event.js';
export type { IWorkspace } from './workspace.js';
export type { IUiSession } from './ui-session.js';

/** Every entity, in one list, for the ORM config and the migration generator. */
export const entities = [Workspace, ApiKey, ApiKeySecret, Event, UiSession, PortalLink, AuditEntry, UsageRecord, UsageMinute, UsageHour, UsageDay, UsageMonth, UsageMonthPlan, LimitRequest, RateLimitCounter, Plan, WorkspaceRateCounter, WorkspaceQuota, ...webhookEntities];
