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

/** Options of the {@link IamError} constructor. */
export interface IamErrorOptions {
  /** The underlying error, kept for logs. */
  cause?: unknown
  /** Overrides the HTTP status of the code's mapping. */
  status?: number
  /** HTTP status the IAM answered with, when the error comes from an IAM response. */
  iamStatus?: number
  /** Structured facts about the failure (the permission required, the key id...), for logs. */
  details?: Readonly<Record<string, unknown>>
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
export class IamError extends Error {
  /** Why it failed; one of a closed set. */
  readonly code: IamErrorCode
  /** HTTP status a protected endpoint answers with. */
  readonly status: number
  /** Same as `status`, for frameworks that read `statusCode`. */
  readonly statusCode: number
  /** Wire error number of the IAM SDK family (20000, 20001, 20013, 20023, 20030). */
  readonly errorCode: number
  /** HTTP status the IAM answered with, when this error comes from an IAM response. */
  readonly iamStatus: number | undefined
  /** Structured facts about the failure, for logs (never a token or a secret). */
  readonly details: Readonly<Record<string, unknown>> | undefined

  constructor(code: IamErrorCode, message: string, options: IamErrorOptions = {}) {
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
  toJSON(): { errorCode: number; errorMessage: string } {
    return {
      errorCode: this.errorCode,
      errorMessage: `${IAM_ERROR_HTTP[this.code].message}: ${this.message}`,
    }
  }
}

/** True when `value` is an {@link IamError}, optionally with one of the given codes. */
export function isIamError(value: unknown, ...codes: IamErrorCode[]): value is IamError {
  return value instanceof IamError && (codes.length === 0 || codes.includes(value.code))
}
