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

export { DEFAULT_REALM, wwwAuthenticate } from '../errors.js'

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
export function toHttpErrorResponse(error: unknown): HttpErrorResponse {
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
  return { status: error.status, headers: { ...error.headers }, body: error.toJSON() }
}
