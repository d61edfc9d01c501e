// Listed by hand, oldest first, so no runner depends on globbing a folder.
// Several people add migrations at once: each adds one import and one line, nothing else.
import { Migration20261123091902_Initial } from './Migration20261123091902_Initial.js';
import { Migration20261123092935_Events } from './Migration20261123092935_Events.js';
import { Migration20261123093552_UiSessions } from './Migration20261123093552_UiSessions.js';
import { Migration20261123093625_AuditLog } from './Migration20261123093625_AuditLog.js';
import { Migration20261123093630_KeySecretRotation } from './Migration20261123093630_KeySecretRotation.js';
import { Migration20261123093649_RateLimitCounters } from './Migration20261123093649_RateLimitCounters.js';
import { Migration20261123093657_Usage } from './Migration20261123093657_Usage.js';
import { Migration20261123093719_Webhooks } from './Migration20261123093719_Webhooks.js';
import { Migration20261123140000_UsageHour } from './Migration20261123140000_UsageHour.js';
import { Migration20261201002357_EventTypeSchema } from './Migration20261201002357_EventTypeSchema.js';
import { Migration20261201030200_PlansAndQuotas } from './Migration20261201030200_PlansAndQuotas.js';
import { Migration20261201031819_UsageSources } from './Migration20261201031819_UsageSources.js';
import { Migration20261201045445_PortalSessions } from './Migration20261201045445_PortalSessions.js';
import { Migration20261201062610_PortalBrandingOAuth } from './Migration20261201062610_PortalBrandingOAuth.js';
import { Migration20261201071205_OutboxIndex } from './Migration20261201071205_OutboxIndex.js';
import { Migration20261201080000_UsagePartitions } from './Migration20261201080000_UsagePartitions.js';
import { Migration20261201083000_UsageDayTotals } from './Migration20261201083000_UsageDayTotals.js';
import { Migration20261207033736_UsageRecordKey } from './Migration20261207033736_UsageRecordKey.js';
import { Migration20261207121239_UsageRecordNoBrin } from './Migration20261207121239_UsageRecordNoBrin.js';

export const migrationsList = [
  { name: 'Migration20261123091902_Initial', class: Migration20261123091902_Initial },
  { name: 'Migration20261123092935_Events', class: Migration20261123092935_Events },
  { name: 'Migration20261123093552_UiSessions', class: Migration20261123093552_UiSessions },
  { name: 'Migration20261123093625_AuditLog', class: Migration20261123093625_AuditLog },
  { name: 'Migration20261123093630_KeySecretRotation', class: Migration20261123093630_KeySecretRotation },
  { name: 'Migration20261123093649_RateLimitCounters', class: Migration20261123093649_RateLimitCounters },
  { name: 'Migration20261123093657_Usage', class: Migration20261123093657_Usage },
  { name: 'Migration20261123093719_Webhooks', class: Migration20261123093719_Webhooks },
  { name: 'Migration20261123140000_UsageHour', class: Migration20261123140000_UsageHour },
  { name: 'Migration20261201002357_EventTypeSchema', class: Migration20261201002357_EventTypeSchema },
  { name: 'Migration20261201030200_PlansAndQuotas', class: Migration20261201030200_PlansAndQuotas },
  { name: 'Migration20261201031819_UsageSources', class: Migration20261201031819_UsageSources },
  { name: 'Migration20261201045445_PortalSessions', class: Migration20261201045445_PortalSessions },
  { name: 'Migration20261201062610_PortalBrandingOAuth', class: Migration20261201062610_PortalBrandingOAuth },
  { name: 'Migration20261201071205_OutboxIndex', class: Migration20261201071205_OutboxIndex },
  { name: 'Migration20261201080000_UsagePartitions', class: Migration20261201080000_UsagePartitions },
  { name: 'Migration20261201083000_UsageDayTotals', class: Migration20261201083000_UsageDayTotals },
  { name: 'Migration20261207033736_UsageRecordKey', class: Migration20261207033736_UsageRecordKey },
  { name: 'Migration20261207121239_UsageRecordNoBrin', class: Migration20261207121239_UsageRecordNoBrin },
];
