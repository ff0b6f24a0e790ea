/**
 * The one mapping from any thrown value to an HTTP answer, shared by every adapter.
 */
import { IAM_ERROR_HTTP, IamError } from '../errors.js'

/** An HTTP error answer: status, headers and the wire JSON body. */
export interface HttpErrorResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: { readonly errorCode: number; readonly errorMessage: string }
}

/** The `realm` of the `WWW-Authenticate` challenge. */
export const DEFAULT_REALM = 'iam'

/** Makes a string safe inside a quoted-string of a header (printable ASCII, escaped, bounded). */
function quoted(text: string): string {
  const safe = text
    .replace(/[^\x20-\x7e]/g, ' ')
    .replace(/["\\]/g, (c) => `\\${c}`)
    .slice(0, 200)
  return `"${safe}"`
}

/**
 * The RFC 6750 challenge for an error status: `Bearer realm="…"` alone when the request carries
 * no bearer token (none, or another scheme such as `Basic`: RFC 6750 §3.1); `invalid_request`
 * when it carries more than one; `error="invalid_token"` on other 401s; `insufficient_scope` on
 * 403s; `undefined` for every other status.
 */
export function wwwAuthenticate(error: IamError, realm = DEFAULT_REALM): string | undefined {
  if (error.status !== 401 && error.status !== 403) return undefined
  const base = `Bearer realm=${quoted(realm)}`
  if (error.code === 'ERR_IAM_TOKEN_MISSING') return base
  const kind =
    error.status === 403
      ? 'insufficient_scope'
      : error.code === 'ERR_IAM_TOKEN_AMBIGUOUS'
        ? 'invalid_request'
        : 'invalid_token'
  return `${base}, error="${kind}", error_description=${quoted(error.message)}`
}

/**
 * Maps any thrown value to `{ status, headers, body }`: an {@link IamError} to its mapping (plus
 * `WWW-Authenticate` on 401/403); anything else to 500 / 20000 with a generic message, so that
 * internals never leak.
 *
 * @example
 * ```ts
 * const { status, headers, body } = toHttpErrorResponse(err)
 * res.writeHead(status, { ...headers, 'content-type': 'application/json' })
 * res.end(JSON.stringify(body))
 * ```
 */
export function toHttpErrorResponse(error: unknown, realm = DEFAULT_REALM): HttpErrorResponse {
  if (!(error instanceof IamError)) {
    return {
      status: 500,
      headers: {},
      body: {
        errorCode: IAM_ERROR_HTTP.ERR_IAM_INTERNAL.errorCode,
        errorMessage: `${IAM_ERROR_HTTP.ERR_IAM_INTERNAL.message}: unexpected error`,
      },
    }
  }
  const headers: Record<string, string> = {}
  const challenge = wwwAuthenticate(error, realm)
  if (challenge !== undefined) headers['WWW-Authenticate'] = challenge
  if (error.status === 503) headers['Retry-After'] = '1'
  return { status: error.status, headers, body: error.toJSON() }
}
