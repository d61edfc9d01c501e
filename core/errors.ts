/** An error whose status, code and message are safe to show the caller as they are. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const notFound = (what: string, id: string) => new HttpError(404, 'not_found', `${what} '${truncate(id)}' was not found`);
export const conflict = (message: string, field?: string) => new HttpError(409, 'conflict', message, field);
export const badRequest = (message: string, field?: string) => new HttpError(400, 'invalid_input', message, field);
export const forbidden = (scope: string) =>
  new HttpError(403, 'insufficient_permissions', `This API key lacks the '${scope}' permission`);
export const unauthorized = (message = 'Missing or invalid API key: send it in the x-api-key header') =>
  new HttpError(401, 'unauthorized', message);

/** Ids echoed in messages are cut short, so a 300-character id does not make a 300-character error. */
export function truncate(s: string, max = 64): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
