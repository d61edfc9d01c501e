import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { SearchAttributeName } from './constants.js';

const keyword = (name: SearchAttributeName) => defineSearchAttributeKey(name, SearchAttributeType.KEYWORD);

/** Typed keys for `typedSearchAttributes`, one per name registered in constants.ts. */
export const SA = {
  workspace: keyword('GatehouseWorkspace'),
  keyId: keyword('GatehouseKeyId'),
  eventType: keyword('GatehouseEventType'),
  endpoint: keyword('GatehouseEndpoint'),
  deliveryStatus: keyword('GatehouseDeliveryStatus'),
} as const;
