// Key verification procedure (the hot path's tRPC face).
export const keyVerifyProcedures = {};
