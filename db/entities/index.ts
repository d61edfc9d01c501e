import { ApiKey } from './api-key.js';
import { ApiKeySecret } from './api-key-secret.js';
import { Workspace } from './workspace.js';

export { ApiKey, ApiKeySecret, Workspace };
export type { IApiKey, RateLimit, RefillInterval } from './api-key.js';
export type { IApiKeySecret } from './api-key-secret.js';
export type { IWorkspace } from './workspace.js';

/** Every entity, in one list, for the ORM config and the migration generator. */
export const entities = [Workspace, ApiKey, ApiKeySecret];
