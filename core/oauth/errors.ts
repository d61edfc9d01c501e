/**
 * An error answered in OAuth's own shape (RFC 6749 §5.2, RFC 7009, RFC 8707):
 * `{"error": "<code>", "error_description": "<text>"}`, never Gatehouse's `{error: {code}}`.
 */
export class OAuthError extends Error {
  override name = 'OAuthError';
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(`${error}: ${description}`);
  }
}

export const invalidRequest = (description: string) => new OAuthError(400, 'invalid_request', description);
export const invalidScope = (description: string) => new OAuthError(400, 'invalid_scope', description);
export const invalidTarget = (description: string) => new OAuthError(400, 'invalid_target', description);
export const unauthorizedClient = (description: string) => new OAuthError(400, 'unauthorized_client', description);
