/**
 * The one error class of the SDK and its closed set of codes.
 *
 * Every error the SDK throws or hands to a framework is an {@link IamError}; its `code` says why,
 * its `status` is the HTTP status a protected endpoint answers with, and `errorCode` is the wire
 * error number of the IAM SDK family (20000, 20001, 20013, 20023, 20030) used in JSON bodies.
 */

/** Every code an {@link IamError} can carry. */
export type IamErrorCode =
  // Token validation (local)
  | 'ERR_IAM_TOKEN_MISSING'
  | 'ERR_IAM_TOKEN_AMBIGUOUS'
  | 'ERR_IAM_TOKEN_MALFORMED'
  | 'ERR_IAM_TOKEN_KEY_UNKNOWN'
  | 'ERR_IAM_TOKEN_ALGORITHM'
  | 'ERR_IAM_TOKEN_SIGNATURE'
  | 'ERR_IAM_TOKEN_EXPIRED'
  | 'ERR_IAM_TOKEN_NOT_YET_VALID'
  | 'ERR_IAM_TOKEN_ISSUER'
  | 'ERR_IAM_TOKEN_REVOKED'
  | 'ERR_IAM_USER_REVOKED'
  | 'ERR_IAM_LOCAL_VALIDATION_NOT_STARTED'
  // Access decisions
  | 'ERR_IAM_INSUFFICIENT_SCOPE'
  | 'ERR_IAM_CHECK_REFUSED'
  | 'ERR_IAM_INVALID_AUDIENCE'
  | 'ERR_IAM_INSUFFICIENT_PERMISSIONS'
  | 'ERR_IAM_INVALID_PERMISSION'
  | 'ERR_IAM_INVALID_REFERER'
  | 'ERR_IAM_SUBDOMAIN_MISMATCH'
  // Talking to the IAM
  | 'ERR_IAM_CLIENT_UNAUTHORIZED'
  | 'ERR_IAM_CLIENT_FORBIDDEN'
  | 'ERR_IAM_NOT_FOUND'
  | 'ERR_IAM_UNAVAILABLE'
  | 'ERR_IAM_BAD_RESPONSE'
  | 'ERR_IAM_NOT_READY'
  | 'ERR_IAM_CLOSED'
  // Anything else that went wrong inside the SDK
  | 'ERR_IAM_INTERNAL'

/** How each code is answered over HTTP by the framework adapters. */
export interface IamErrorHttpMapping {
  /** HTTP status. */
  readonly status: number
  /** Wire `errorCode` of the IAM SDK family. */
  readonly errorCode: number
  /** Wire message that prefixes the description in `errorMessage`. */
  readonly message: string
}

const UNAUTHORIZED: IamErrorHttpMapping = {
  status: 401,
  errorCode: 20001,
  message: 'unauthorized access',
}
const FORBIDDEN: IamErrorHttpMapping = {
  status: 403,
  errorCode: 20013,
  message: 'insufficient permissions',
}
const UNAVAILABLE: IamErrorHttpMapping = {
  status: 503,
  errorCode: 20000,
  message: 'internal server error',
}
const INTERNAL: IamErrorHttpMapping = {
  status: 500,
  errorCode: 20000,
  message: 'internal server error',
}

/** The HTTP mapping of every code (status, wire errorCode, wire message). */
export const IAM_ERROR_HTTP: Readonly<Record<IamErrorCode, IamErrorHttpMapping>> = Object.freeze({
  ERR_IAM_TOKEN_MISSING: UNAUTHORIZED,
  ERR_IAM_TOKEN_AMBIGUOUS: UNAUTHORIZED,
  ERR_IAM_TOKEN_MALFORMED: UNAUTHORIZED,
  ERR_IAM_TOKEN_KEY_UNKNOWN: UNAUTHORIZED,
  ERR_IAM_TOKEN_ALGORITHM: UNAUTHORIZED,
  ERR_IAM_TOKEN_SIGNATURE: UNAUTHORIZED,
  ERR_IAM_TOKEN_EXPIRED: UNAUTHORIZED,
  ERR_IAM_TOKEN_NOT_YET_VALID: UNAUTHORIZED,
  ERR_IAM_TOKEN_ISSUER: UNAUTHORIZED,
  ERR_IAM_TOKEN_REVOKED: UNAUTHORIZED,
  ERR_IAM_USER_REVOKED: UNAUTHORIZED,
  ERR_IAM_LOCAL_VALIDATION_NOT_STARTED: INTERNAL,
  ERR_IAM_INSUFFICIENT_SCOPE: FORBIDDEN,
  ERR_IAM_CHECK_REFUSED: FORBIDDEN,
  ERR_IAM_INVALID_AUDIENCE: UNAUTHORIZED,
  ERR_IAM_INSUFFICIENT_PERMISSIONS: FORBIDDEN,
  ERR_IAM_INVALID_PERMISSION: INTERNAL,
  ERR_IAM_INVALID_REFERER: { status: 401, errorCode: 20023, message: 'invalid referer header' },
  ERR_IAM_SUBDOMAIN_MISMATCH: {
    status: 404,
    errorCode: 20030,
    message: 'subdomain mismatch error',
  },
  ERR_IAM_CLIENT_UNAUTHORIZED: INTERNAL,
  ERR_IAM_CLIENT_FORBIDDEN: INTERNAL,
  ERR_IAM_NOT_FOUND: INTERNAL,
  ERR_IAM_UNAVAILABLE: UNAVAILABLE,
  ERR_IAM_BAD_RESPONSE: INTERNAL,
  ERR_IAM_NOT_READY: UNAVAILABLE,
  ERR_IAM_CLOSED: UNAVAILABLE,
  ERR_IAM_INTERNAL: INTERNAL,
})

/** The `realm` of the `WWW-Authenticate` challenge. */
export const DEFAULT_REALM = 'iam'

/**
 * The structured details some codes carry (`error.details`), for logs and for code that reacts
 * to a refusal. Never a token or a secret.
 */
export interface IamErrorDetailsByCode {
  /** The `kid` of the token's header, not in the JWKS even after a refetch. */
  ERR_IAM_TOKEN_KEY_UNKNOWN: { readonly kid: string }
  /** The token's `alg`, and the algorithm its key is for when that is the reason. */
  ERR_IAM_TOKEN_ALGORITHM: { readonly alg: string; readonly keyAlg?: string }
  /** The token's `exp` (epoch seconds). */
  ERR_IAM_TOKEN_EXPIRED: { readonly exp: number }
  /** The token's `nbf` (epoch seconds). */
  ERR_IAM_TOKEN_NOT_YET_VALID: { readonly nbf: number }
  /** The token's `iss` (absent when it has none) and the accepted ones. */
  ERR_IAM_TOKEN_ISSUER: { readonly iss: string | undefined; readonly accepted: readonly string[] }
  /** The scopes a route requires and those the token lacks. */
  ERR_IAM_INSUFFICIENT_SCOPE: {
    readonly scopes: readonly string[]
    readonly missing: readonly string[]
  }
  /** The permission required (placeholders substituted) and, in debug, why it was refused. */
  ERR_IAM_INSUFFICIENT_PERMISSIONS: {
    readonly required?: { readonly resource: string; readonly action: number }
    readonly explanation?: unknown
  }
  /** Which CSRF rule failed (`referer-not-allowed`, `no-referer-or-origin`, ...). */
  ERR_IAM_INVALID_REFERER: { readonly rule: string }
}

/** The details of code `C`: its entry of {@link IamErrorDetailsByCode}, else a plain record. */
export type IamErrorDetails<C extends IamErrorCode = IamErrorCode> =
  C extends keyof IamErrorDetailsByCode
    ? IamErrorDetailsByCode[C]
    : Readonly<Record<string, unknown>>

/** The headers an error answer carries: the RFC 6750 challenge, `Retry-After` on a 503. */
export type IamErrorHeaders = {
  readonly 'WWW-Authenticate'?: string
  readonly 'Retry-After'?: string
}

/** The wire JSON body of an error answer. */
export interface IamErrorBody {
  readonly errorCode: number
  readonly errorMessage: string
}

/** Makes a string safe inside a quoted-string of a header (printable ASCII, escaped, bounded). */
function quoted(text: string): string {
  const safe = text
    .replace(/[^\x20-\x7e]/g, ' ')
    .replace(/["\\]/g, (c) => `\\${c}`)
    .slice(0, 200)
  return `"${safe}"`
}

/**
 * The RFC 6750 challenge for an error: `Bearer realm="…"` alone when the request carries no
 * bearer token (none, or another scheme such as `Basic`: RFC 6750 §3.1); `invalid_request` when
 * it carries more than one; `error="invalid_token"` on other 401s; `insufficient_scope` on 403s
 * (with `scope="…"` when scopes were required); `undefined` for every other status.
 *
 * @example
 * ```ts
 * wwwAuthenticate(new IamError('ERR_IAM_TOKEN_EXPIRED', 'token is expired'))
 * // 'Bearer realm="iam", error="invalid_token", error_description="token is expired"'
 * ```
 */
export function wwwAuthenticate(error: IamError): string | undefined {
  if (error.status !== 401 && error.status !== 403) return undefined
  const base = `Bearer realm=${quoted(DEFAULT_REALM)}`
  if (error.code === 'ERR_IAM_TOKEN_MISSING') return base
  const kind =
    error.status === 403
      ? 'insufficient_scope'
      : error.code === 'ERR_IAM_TOKEN_AMBIGUOUS'
        ? 'invalid_request'
        : 'invalid_token'
  const scopes = isIamError(error, 'ERR_IAM_INSUFFICIENT_SCOPE') ? error.details?.scopes : undefined
  const scope =
    Array.isArray(scopes) && scopes.length > 0 ? `, scope=${quoted(scopes.join(' '))}` : ''
  return `${base}, error="${kind}", error_description=${quoted(error.message)}${scope}`
}

/** Options of the {@link IamError} constructor. */
export interface IamErrorOptions<C extends IamErrorCode = IamErrorCode> {
  /** The underlying error, kept for logs. */
  cause?: unknown
  /** Overrides the HTTP status of the code's mapping. */
  status?: number
  /** HTTP status the IAM answered with, when the error comes from an IAM response. */
  iamStatus?: number
  /** Structured facts about the failure (the permission required, the key id...), for logs. */
  details?: IamErrorDetails<C>
}

/**
 * The SDK's error. Narrow on `code`:
 *
 * @example
 * ```ts
 * try { client.validateAndParseClaims(token) }
 * catch (err) {
 *   if (err instanceof IamError && err.code === 'ERR_IAM_TOKEN_EXPIRED') { ... }
 * }
 * ```
 */
export class IamError<C extends IamErrorCode = IamErrorCode> extends Error {
  /** Why it failed; one of a closed set. */
  readonly code: C
  /** HTTP status a protected endpoint answers with. */
  readonly status: number
  /** Same as `status`, for frameworks that read `statusCode`. */
  readonly statusCode: number
  /** Wire error number of the IAM SDK family (20000, 20001, 20013, 20023, 20030). */
  readonly errorCode: number
  /** HTTP status the IAM answered with, when this error comes from an IAM response. */
  readonly iamStatus: number | undefined
  /** Structured facts about the failure, typed per code (see {@link IamErrorDetailsByCode}). */
  readonly details: IamErrorDetails<C> | undefined

  constructor(code: C, message: string, options: IamErrorOptions<C> = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'IamError'
    this.code = code
    const mapping = IAM_ERROR_HTTP[code]
    this.status = options.status ?? mapping.status
    this.statusCode = this.status
    this.errorCode = mapping.errorCode
    this.iamStatus = options.iamStatus
    this.details = options.details
  }

  /** The wire body `{ errorCode, errorMessage: "<message>: <description>" }`. */
  toJSON(): IamErrorBody {
    return {
      errorCode: this.errorCode,
      errorMessage: `${IAM_ERROR_HTTP[this.code].message}: ${this.message}`,
    }
  }

  /** The wire body of the answer (same as {@link IamError.toJSON}). */
  get body(): IamErrorBody {
    return this.toJSON()
  }

  /**
   * The headers of the answer: `WWW-Authenticate` on 401 and 403 (RFC 6750), `Retry-After: 1` on
   * 503. Frameworks that apply `error.headers` (Fastify, Koa) send them as they are.
   */
  get headers(): IamErrorHeaders {
    const headers: { 'WWW-Authenticate'?: string; 'Retry-After'?: string } = {}
    const challenge = wwwAuthenticate(this)
    if (challenge !== undefined) headers['WWW-Authenticate'] = challenge
    if (this.status === 503) headers['Retry-After'] = '1'
    return headers
  }

  /** For Koa and `http-errors`-style handlers: the message may be shown to the client. */
  get expose(): boolean {
    return this.status < 500
  }
}

/**
 * True when `value` is an {@link IamError}, optionally with one of the given codes; narrows the
 * error to those codes (and so types its `details`).
 *
 * @example
 * ```ts
 * if (isIamError(err, 'ERR_IAM_TOKEN_KEY_UNKNOWN')) console.log(err.details?.kid)
 * ```
 */
export function isIamError<C extends IamErrorCode = IamErrorCode>(
  value: unknown,
  ...codes: C[]
): value is IamError<C> {
  return (
    value instanceof IamError && (codes.length === 0 || (codes as string[]).includes(value.code))
  )
}
