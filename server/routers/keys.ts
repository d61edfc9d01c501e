import { router } from '../trpc.js';
import { keyCrudProcedures } from './keys/crud.js';
import { keyRotationProcedures } from './keys/rotation.js';
import { keyVerifyProcedures } from './keys/verify.js';

/** The `keys` resource: its procedures live in keys/ by concern and meet here. */
export const keysRouter = router({
  ...keyCrudProcedures,
  ...keyVerifyProcedures,
  ...keyRotationProcedures,
});
