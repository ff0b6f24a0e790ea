/**
 * Token extraction (docs/iam-wire-protocol.md#52-token-location): locations in order, the header scheme compared
 * case-insensitively, a present-but-malformed header answered 401 (never 500).
 */
import { IamError } from '../errors.js'
import type { TokenLocation } from './options.js'
import type { HttpRequest } from './request.js'

/** What extraction needs from the resolved options. */
export interface TokenExtractionOptions {
  readonly tokenLocations: readonly TokenLocation[]
  readonly tokenHeaderName: string
  readonly tokenHeaderType: string
  /** `tokenHeaderType` in lower case (computed once with the options). */
  readonly tokenHeaderTypeLower: string
  readonly tokenCookieName: string
}

/** A token found in a request. */
export interface ExtractedToken {
  readonly token: string
  readonly location: TokenLocation
}

/** Longest token accepted; real IAM tokens are a few KB, and headers are capped around 16 KB. */
const MAX_TOKEN_LENGTH = 16_384

function malformed(where: string): IamError {
  return new IamError('ERR_IAM_TOKEN_MALFORMED', `malformed access token in ${where}`)
}

/**
 * Bounds the token's length and checks it is three dot-separated parts. The characters (three
 * canonical base64url parts) are checked by the verifier, on a cache miss only: a repeated token
 * is looked up by its exact text, and a regex over a kilobyte on every request would cost more
 * than the whole lookup.
 */
function checkLength(token: string, where: string): string {
  if (token.length > MAX_TOKEN_LENGTH || !hasTwoDots(token, 0)) throw malformed(where)
  return token
}

/** Whether `text` from `start` has exactly two dots, as a JWS in compact form (no regex). */
function hasTwoDots(text: string, start: number): boolean {
  const first = text.indexOf('.', start)
  if (first < 0) return false
  const second = text.indexOf('.', first + 1)
  return second > first + 1 && text.indexOf('.', second + 1) === -1
}

/** Whether `text` starts with `lower` (lower case) compared case-insensitively, with no copy. */
function startsWithIgnoreCase(text: string, lower: string): boolean {
  if (text.length < lower.length) return false
  for (let i = 0; i < lower.length; i++) {
    const c = text.charCodeAt(i)
    const t = lower.charCodeAt(i)
    if (c !== t && !(c >= 65 && c <= 90 && c + 32 === t)) return false
  }
  return true
}

/** A scheme name (RFC 7235 token) followed by its credentials: `Basic dXNlcjpwYXNz`. */
const OTHER_SCHEME_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ +\S/

/**
 * Finds the access token of a request.
 *
 * - `headers`: the header is split on whitespace; with a `tokenHeaderType` it must be exactly
 *   `<type> <token>` (type compared case-insensitively), else exactly `<token>`. An empty header,
 *   or one with another scheme (`Basic …`: credentials that are not ours, RFC 6750 §3.1), counts
 *   as absent; anything else that does not fit is `ERR_IAM_TOKEN_MALFORMED`, and the cookie is not
 *   tried (a header token wins, as in the Python SDK). A header sent twice (or with a comma, as
 *   repeated headers are joined) is `ERR_IAM_TOKEN_AMBIGUOUS`: which one would win depends on the
 *   server, so none does.
 * - `cookies`: the named cookie; empty counts as absent.
 *
 * @throws IamError `ERR_IAM_TOKEN_MISSING` when no location has a token,
 *   `ERR_IAM_TOKEN_AMBIGUOUS` for repeated credentials, `ERR_IAM_TOKEN_MALFORMED` when the token
 *   found is not a JWS compact string.
 *
 * @example
 * ```ts
 * const { token, location } = extractToken(request, options) // location: 'header' | 'cookie'
 * ```
 */
export function extractToken(
  request: HttpRequest,
  options: TokenExtractionOptions,
): ExtractedToken {
  for (const location of options.tokenLocations) {
    if (location === 'header') {
      const raw = request.header(options.tokenHeaderName)
      if (raw === undefined) continue
      if (raw.includes(',') || request.isRepeated(options.tokenHeaderName)) {
        throw new IamError(
          'ERR_IAM_TOKEN_AMBIGUOUS',
          `the ${options.tokenHeaderName} header is sent more than once`,
        )
      }
      const where = `${options.tokenHeaderName} header`
      const type = options.tokenHeaderType
      // Fast path: "<type> <token>", the token one word with a JWS's two dots.
      if (
        type !== '' &&
        raw.length > type.length + 1 &&
        raw.charCodeAt(type.length) === 32 &&
        raw.length - type.length - 1 <= MAX_TOKEN_LENGTH &&
        startsWithIgnoreCase(raw, options.tokenHeaderTypeLower) &&
        raw.indexOf(' ', type.length + 1) === -1 &&
        hasTwoDots(raw, type.length + 1)
      ) {
        return { token: raw.slice(type.length + 1), location: 'header' }
      }
      const value = raw.trim()
      if (value === '') continue
      const parts = value.split(/\s+/)
      if (type === '') {
        if (parts.length !== 1) throw malformed(where)
        return { token: checkLength(parts[0] as string, where), location: 'header' }
      }
      if (parts[0]?.toLowerCase() !== type.toLowerCase()) {
        // Credentials of another scheme are not a bearer token: as if there were none.
        if (OTHER_SCHEME_RE.test(value)) continue
        throw malformed(where)
      }
      if (parts.length !== 2) throw malformed(where)
      return { token: checkLength(parts[1] as string, where), location: 'header' }
    } else {
      const value = request.cookies[options.tokenCookieName]?.trim()
      if (value === undefined || value === '') continue
      return { token: checkLength(value, `${options.tokenCookieName} cookie`), location: 'cookie' }
    }
  }
  throw new IamError(
    'ERR_IAM_TOKEN_MISSING',
    // The seed's wire text: "Missing access token in headers or cookies".
    `Missing access token in ${options.tokenLocations.map((l) => `${l}s`).join(' or ')}`,
  )
}
