/** Search attributes an operator filters on in the Temporal Web UI; all Keyword. */
export const SEARCH_ATTRIBUTES = [
  'GatehouseWorkspace',
  'GatehouseKeyId',
  'GatehouseEventType',
  'GatehouseEndpoint',
  'GatehouseDeliveryStatus',
] as const;
export type SearchAttributeName = (typeof SEARCH_ATTRIBUTES)[number];
