/**
 * The body of `GET /v3/oauth/revocationlist`: a bloom filter of revoked access tokens and the
 * list of revoked users, parsed losslessly and strictly, and written back byte-compatibly.
 * @module
 */

import { parse } from 'lossless-json'
import { BloomFilter } from './bloom.js'
import { IamError } from './errors.js'

/** A parsed revocation list. */
export interface RevocationList {
  /** Revoked access tokens (`revoked_tokens`). `mightContain(token)` true means revoked. */
  readonly revokedTokens: BloomFilter
  /** Revoked users: user ID → revocation time in epoch milliseconds (`revoked_users`). */
  readonly revokedUsers: ReadonlyMap<string, number>
}

/** A JSON number kept as its source text, so uint64 words never pass through a double. */
class JsonNumber {
  constructor(readonly text: string) {}
}

const UINT64_MAX = 0xffffffffffffffffn
const MAX_K = 255
const MAX_WORDS = 2 ** 26
// JSON integer literals only (the grammar already excludes leading zeros); Go's uint decoding
// rejects fractions, exponents and signs too.
const UNSIGNED = /^(?:0|[1-9]\d*)$/
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:Z|([+-])(\d{2}):(\d{2}))$/
const DAY_MS = 86_400_000
const MIN_MS = -62_167_219_200_000 // 0000-01-01T00:00:00Z
const MAX_MS = 253_402_300_799_999 // 9999-12-31T23:59:59.999Z

function bad(message: string, cause?: unknown): IamError {
  return new IamError('ERR_IAM_BAD_RESPONSE', `revocation list: ${message}`, { cause })
}

function isObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof JsonNumber)
  )
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146_097 + doe - 719_468
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
}

/**
 * Epoch milliseconds of an RFC 3339 timestamp as Go's `time.Time` JSON decoding accepts it:
 * upper-case `T` and `Z`, optional fraction of any length (truncated to milliseconds, as both
 * reference SDKs truncate), `Z` or a `±hh:mm` offset. Returns `undefined` when invalid.
 */
export function parseRfc3339Ms(text: string): number | undefined {
  const match = RFC3339.exec(text)
  if (match === null) return undefined
  const [, y, mo, d, h, mi, s, frac, sign, oh, om] = match
  const year = Number(y)
  const month = Number(mo)
  const day = Number(d)
  const hour = Number(h)
  const minute = Number(mi)
  const second = Number(s)
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined
  if (hour > 23 || minute > 59 || second > 59) return undefined
  let offsetMinutes = 0
  if (sign !== undefined) {
    const offsetHours = Number(oh)
    const offsetMins = Number(om)
    if (offsetHours > 23 || offsetMins > 59) return undefined
    offsetMinutes = (sign === '-' ? -1 : 1) * (offsetHours * 60 + offsetMins)
  }
  const millis = frac === undefined ? 0 : Number(frac.slice(0, 3).padEnd(3, '0'))
  return (
    daysFromCivil(year, month, day) * DAY_MS +
    ((hour * 60 + minute - offsetMinutes) * 60 + second) * 1000 +
    millis
  )
}

function parseUnsigned(value: unknown): bigint | undefined {
  if (!(value instanceof JsonNumber) || !UNSIGNED.test(value.text)) return undefined
  const n = BigInt(value.text)
  return n <= UINT64_MAX ? n : undefined
}

function parseFilter(value: unknown): BloomFilter {
  if (!isObject(value)) throw bad('revoked_tokens must be an object')
  const k = parseUnsigned(value.k)
  if (k === undefined || k < 1n || k > BigInt(MAX_K)) {
    throw bad(`revoked_tokens.k must be an integer in [1, ${MAX_K}]`)
  }
  // `m` is not used: the filter size is always 64 * bits.length, as Go's bloom.From does
  // (docs/iam-wire-protocol.md#43-filter-size; the Python SDK trusts `m` and fails or misreads when they differ). A present
  // `m` must still be a valid unsigned integer, as Go's decoding requires.
  if (value.m !== undefined && value.m !== null && parseUnsigned(value.m) === undefined) {
    throw bad('revoked_tokens.m must be an unsigned integer')
  }
  const bits = value.bits
  if (!Array.isArray(bits) || bits.length === 0 || bits.length > MAX_WORDS) {
    throw bad(`revoked_tokens.bits must be an array of 1 to ${MAX_WORDS} integers`)
  }
  const words = new BigUint64Array(bits.length)
  for (let i = 0; i < bits.length; i++) {
    const word = parseUnsigned(bits[i])
    if (word === undefined) throw bad(`revoked_tokens.bits[${i}] must be an integer in [0, 2^64-1]`)
    words[i] = word
  }
  return new BloomFilter(words, Number(k))
}

function parseUsers(value: unknown): Map<string, number> {
  const users = new Map<string, number>()
  if (value === null) return users // Go decodes null as an empty slice
  if (!Array.isArray(value)) throw bad('revoked_users must be an array')
  for (let i = 0; i < value.length; i++) {
    const entry: unknown = value[i]
    if (!isObject(entry)) throw bad(`revoked_users[${i}] must be an object`)
    const { id, revoked_at: revokedAt } = entry
    if (typeof id !== 'string') throw bad(`revoked_users[${i}].id must be a string`)
    const ms = typeof revokedAt === 'string' ? parseRfc3339Ms(revokedAt) : undefined
    if (ms === undefined) throw bad(`revoked_users[${i}].revoked_at must be an RFC 3339 timestamp`)
    // A user listed twice keeps the latest time: revoked by any entry means revoked.
    const previous = users.get(id)
    if (previous === undefined || ms > previous) users.set(id, ms)
  }
  return users
}

/**
 * Parses the raw text of a `GET /v3/oauth/revocationlist` response.
 *
 * Numbers are read losslessly (`bits` words are uint64 and `JSON.parse` would corrupt those
 * above 2^53). Validation is strict: `revoked_tokens` must be an object with `k` an integer in
 * `[1, 255]` and `bits` a non-empty array of integers in `[0, 2^64-1]`; `revoked_users` must be
 * an array (or `null`, read as empty) of `{ id: string, revoked_at: RFC 3339 string }`. Unknown
 * fields are ignored; duplicate keys are rejected.
 *
 * @throws IamError `ERR_IAM_BAD_RESPONSE` describing the first problem found
 *
 * @example
 * ```ts
 * const list = parseRevocationList(await response.text())
 * list.revokedTokens.mightContain(token) // true: revoked
 * list.revokedUsers.get(userId) // revocation time, epoch ms
 * ```
 */
export function parseRevocationList(text: string): RevocationList {
  if (typeof text !== 'string') throw bad('body must be a string')
  let root: unknown
  try {
    root = parse(text, null, { parseNumber: (digits) => new JsonNumber(digits) })
  } catch (err) {
    throw bad('body is not valid JSON', err)
  }
  if (!isObject(root)) throw bad('body must be a JSON object')
  const revokedTokens = parseFilter(root.revoked_tokens)
  if (root.revoked_users === undefined) throw bad('revoked_users is missing')
  const revokedUsers = parseUsers(root.revoked_users)
  return Object.freeze({ revokedTokens, revokedUsers })
}

/**
 * Whether a token of `userId` issued at `issuedAtSeconds` is revoked by the user list
 * (docs/iam-wire-protocol.md#44-user-revocation): the user is listed and `floor(revokedAtMs / 1000) >= iat`, in whole seconds
 * (a fractional `iat` is truncated, as Go's `NumericDate` does). A token revoked in the same second
 * it was issued is therefore revoked.
 *
 * Without a `sub` (client tokens) this check answers `false`: there is no user to look up (the
 * token bloom filter still applies). A listed user's token without a finite `iat` is read as
 * issued at 0, as Go does, so it is revoked: failing closed.
 *
 * @example
 * ```ts
 * if (isUserRevoked(list, claims.sub, claims.iat)) throw new IamError('ERR_IAM_USER_REVOKED', '…')
 * ```
 */
export function isUserRevoked(
  list: RevocationList,
  userId: string | undefined,
  issuedAtSeconds: number | undefined,
): boolean {
  if (userId === undefined) return false
  const revokedAtMs = list.revokedUsers.get(userId)
  if (revokedAtMs === undefined) return false
  // A listed user's token without a usable iat is treated as issued at 0 (as Go): revoked.
  const iat =
    issuedAtSeconds === undefined || !Number.isFinite(issuedAtSeconds)
      ? 0
      : Math.trunc(issuedAtSeconds)
  return Math.floor(revokedAtMs / 1000) >= iat
}

/** `2021-10-17T17:05:49.556000000Z`: RFC 3339 UTC with nanosecond digits, like the IAM writes. */
function formatRfc3339(ms: number): string {
  const iso = new Date(ms).toISOString() // YYYY-MM-DDTHH:mm:ss.sssZ for years 0000-9999
  return `${iso.slice(0, -1)}000000Z`
}

/**
 * Writes a revocation list body exactly as the IAM does:
 * `{"revoked_tokens":{"m":…,"k":…,"bits":[…]},"revoked_users":[{"id":…,"revoked_at":…}]}`, with
 * `bits` as exact integer digits, `m = 64 * bits.length`, `revoked_at` in RFC 3339 UTC with nine
 * fractional digits and `revoked_users` always an array. The emulator serves this.
 *
 * @param input.revokedUsers - `revokedAtMs` must be an integer between years 0000 and 9999
 * @throws TypeError for a non-string user ID, RangeError for a bad `revokedAtMs`
 *
 * @example
 * ```ts
 * const filter = BloomFilter.withCapacity(1000, 0.001)
 * filter.add(token)
 * serializeRevocationList({ revokedTokens: filter, revokedUsers: [{ id, revokedAtMs: Date.now() }] })
 * ```
 */
export function serializeRevocationList(input: {
  revokedTokens: BloomFilter
  revokedUsers: Iterable<{ id: string; revokedAtMs: number }>
}): string {
  const filter = input.revokedTokens
  const users: string[] = []
  for (const { id, revokedAtMs } of input.revokedUsers) {
    if (typeof id !== 'string') throw new TypeError('revokedUsers[].id must be a string')
    if (!Number.isInteger(revokedAtMs) || revokedAtMs < MIN_MS || revokedAtMs > MAX_MS) {
      throw new RangeError('revokedUsers[].revokedAtMs must be an integer in years 0000-9999')
    }
    users.push(`{"id":${JSON.stringify(id)},"revoked_at":"${formatRfc3339(revokedAtMs)}"}`)
  }
  return (
    `{"revoked_tokens":{"m":${filter.m},"k":${filter.k},"bits":[${filter.words().join(',')}]},` +
    `"revoked_users":[${users.join(',')}]}`
  )
}
