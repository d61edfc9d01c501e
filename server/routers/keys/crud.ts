// Key lifecycle procedures (list, get, create, update, revoke, delete, audit trail).
export const keyCrudProcedures = {};
