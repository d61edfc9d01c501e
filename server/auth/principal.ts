/** Who is calling: resolved once per request from the x-api-key header (or, in the UI, a session). */
export interface Principal {
  workspaceId: string;
  keyPk: string;
  keyId: string;
  scopes: ReadonlySet<string>;
}
