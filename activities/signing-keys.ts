import type { EntityManager } from '@mikro-orm/postgresql';
import {
  createNextSigningKey,
  ensureActiveSigningKey,
  promoteSigningKey,
  unpublishRetiredSigningKeys,
  type Promotion,
  type SigningAlg,
  type SigningKeyView,
} from '../core/oauth/signing-keys.js';
import type { ActivityDeps } from './index.js';

/**
 * The OAuth signing-key rotation's steps. Kids, states and times go in and out (they are public:
 * the JWKS publishes them); private keys never leave the database, sealed.
 */
export function createSigningKeyActivities({ orm, config }: Pick<ActivityDeps, 'orm' | 'config'>) {
  const deps = () => ({ em: orm.em.fork() as EntityManager, secretKey: config.GATEHOUSE_SECRET_KEY });
  const view = ({ kid, alg, state }: SigningKeyView) => ({ kid, alg, state });
  return {
    async ensureActiveSigningKey(): Promise<{ kid: string }> {
      return { kid: (await ensureActiveSigningKey(deps())).kid };
    },
    async createNextSigningKey(input: { alg: SigningAlg }): Promise<{ kid: string; alg: string; state: string }> {
      return view(await createNextSigningKey(deps(), input.alg));
    },
    async promoteSigningKey(input: { kid: string; graceMs: number }): Promise<Promotion> {
      return promoteSigningKey(deps(), input.kid, input.graceMs);
    },
    async unpublishRetiredSigningKeys(): Promise<{ unpublished: string[] }> {
      return { unpublished: await unpublishRetiredSigningKeys(deps()) };
    },
  };
}
