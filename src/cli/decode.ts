/**
 * `decode`: a token's header and claims as they are, with times, flags and bans spelled out.
 * Nothing is verified here: no signature, expiry, key or revocation check.
 *
 * @module
 */
import { Buffer } from 'node:buffer'

import {
  DEFAULT_USER_ROLE_ID,
  formatAction,
  parseClaims,
  type ClaimPermission,
  type JwtBan,
  type JwtClaims,
} from '../index.js'
import { claimTime, relative, utc } from './text.js'

/** A token that is not a readable JWT; exit code 1. */
export class DecodeError extends Error {
  override readonly name = 'DecodeError'
}

/** A token taken apart, unverified. */
export interface DecodedToken {
  header: Record<string, unknown>
  payload: Record<string, unknown>
  /** The claims as the SDK reads them; `undefined` when the SDK would refuse them as malformed. */
  claims: JwtClaims | undefined
  /** Why the SDK would refuse the token before any check (malformed claims, no `kid`, …). */
  problems: string[]
}

const BASE64URL = /^[A-Za-z0-9_-]+$/

/**
 * Whether a base64url text is the one spelling the SDK accepts: the lenient decoder reads other
 * lengths and non-zero unused bits as the same bytes, the SDK refuses them (a revoked token must
 * not pass under another spelling), so the round trip must give the text back.
 */
function isCanonical(segment: string): boolean {
  return Buffer.from(segment, 'base64url').toString('base64url') === segment
}

function part(segment: string | undefined, what: string): Record<string, unknown> {
  if (segment === undefined || segment === '' || !BASE64URL.test(segment)) {
    throw new DecodeError(`not a JWT: the ${what} is not base64url`)
  }
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'))
  } catch {
    throw new DecodeError(`not a JWT: the ${what} is not base64url-encoded JSON`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new DecodeError(`not a JWT: the ${what} is not a JSON object`)
  }
  return value as Record<string, unknown>
}

/**
 * Takes a compact JWS apart without verifying anything. Throws {@link DecodeError} when it is not
 * three base64url parts with JSON header and payload.
 *
 * @example
 * ```ts
 * const { header, payload, problems } = decodeToken(token)
 * ```
 */
export function decodeToken(token: string): DecodedToken {
  const parts = token.split('.')
  if (parts.length !== 3) {
    throw new DecodeError(`not a JWT: expected 3 dot-separated parts, got ${parts.length}`)
  }
  const [headerPart, payloadPart, signature] = parts as [string, string, string]
  const header = part(headerPart, 'header')
  const payload = part(payloadPart, 'payload')
  const problems: string[] = []
  if (signature === '') problems.push('the signature part is empty')
  else if (!BASE64URL.test(signature)) problems.push('the signature part is not base64url')
  for (const [name, segment] of [
    ['header', headerPart],
    ['payload', payloadPart],
    ['signature', signature],
  ] as const) {
    if (segment !== '' && BASE64URL.test(segment) && !isCanonical(segment)) {
      problems.push(
        `the ${name} part is not canonical base64url (an impossible length or non-zero unused bits in its last character)`,
      )
    }
  }
  if (typeof header.kid !== 'string' || header.kid === '') problems.push('the header has no "kid"')
  let claims: JwtClaims | undefined
  try {
    claims = parseClaims(payload)
  } catch (error) {
    problems.push(`malformed claims: ${(error as Error).message}`)
  }
  return { header, payload, claims, problems }
}

const FLAGS: readonly [number, string][] = [
  [1, 'email verified'],
  [2, 'phone verified'],
  [4, 'anonymous'],
]

/**
 * The `jflgs` bits by name.
 *
 * @example
 * ```ts
 * describeFlags(5).text // '5 (email verified: yes, phone verified: no, anonymous: yes)'
 * ```
 */
export function describeFlags(jflgs: unknown): {
  emailVerified: boolean
  phoneVerified: boolean
  anonymous: boolean
  otherBits: number
  text: string
} {
  const value = Number.isInteger(jflgs) ? (jflgs as number) : 0
  const names = FLAGS.map(([bit, name]) => `${name}: ${(value & bit) !== 0 ? 'yes' : 'no'}`)
  const otherBits = value & ~7
  if (otherBits !== 0) names.push(`other bits ${otherBits}`)
  return {
    emailVerified: (value & 1) !== 0,
    phoneVerified: (value & 2) !== 0,
    anonymous: (value & 4) !== 0,
    otherBits,
    text: `${value} (${names.join(', ')})`,
  }
}

function str(value: unknown): string {
  return typeof value === 'string' && value !== '' ? value : JSON.stringify(value)
}

/** A permission on one line: resource, action by name, schedule. */
function describePermission(p: ClaimPermission): string {
  let text = `${p.Resource}  action ${formatAction(p.Action)}`
  const sched = formatAction(p.SchedAction ?? 0)
  if (p.SchedCron !== undefined && p.SchedCron !== '') {
    text += `; scheduled: action ${sched} while cron ${JSON.stringify(p.SchedCron)} is due`
  } else if (p.SchedRange !== undefined && p.SchedRange.length >= 2) {
    text += `; scheduled: action ${sched} between crons ${JSON.stringify(p.SchedRange[0])} and ${JSON.stringify(p.SchedRange[1])}`
  }
  return text
}

function describeBan(ban: JwtBan, now: number): string {
  const parts = [ban.Ban]
  if (ban.Enabled !== undefined) parts.push(ban.Enabled ? 'enabled' : 'disabled')
  if (ban.EndDate !== undefined) {
    const ms = Date.parse(ban.EndDate)
    parts.push(
      Number.isNaN(ms)
        ? `ends ${ban.EndDate}`
        : `${ms > now ? 'ends' : 'ended'} ${utc(ms)} (${relative(ms, now)})`,
    )
  }
  if (ban.TargetedNamespace) parts.push(`in namespace ${ban.TargetedNamespace}`)
  if (ban.DisabledDate) parts.push(`disabled at ${ban.DisabledDate}`)
  return parts.join(', ')
}

const SHOWN = [
  'sub',
  'display_name',
  'namespace',
  'client_id',
  'iss',
  'aud',
  'jti',
  'scope',
  'iat',
  'nbf',
  'exp',
  'jflgs',
  'permissions',
  'namespace_roles',
  'roles',
  'bans',
]

/** A token's claims as `name  value` lines, times, flags, permissions and bans spelled out. */
function describeClaims(decoded: DecodedToken, now: number): string[] {
  const { payload } = decoded
  const lines: string[] = []
  const row = (name: string, value: string) => lines.push(`  ${name.padEnd(16)} ${value}`)
  for (const name of ['sub', 'display_name', 'namespace', 'client_id', 'iss', 'aud', 'jti']) {
    if (payload[name] !== undefined) row(name, str(payload[name]))
  }
  if (payload.sub === undefined) row('sub', '(none: a client token)')
  if (payload.scope !== undefined) row('scope', str(payload.scope))
  const iat = claimTime(payload.iat, now, 'issued', 'issued')
  if (iat !== undefined) row('iat', iat)
  const nbf = claimTime(payload.nbf, now, 'valid', 'valid since')
  if (nbf !== undefined) row('nbf', nbf)
  const exp = claimTime(payload.exp, now, 'expires', 'expired')
  row('exp', exp ?? `${str(payload.exp)} (not a time: the SDK refuses the token)`)
  row('jflgs', describeFlags(payload.jflgs).text)
  for (const [name, value] of Object.entries(payload)) {
    if (!SHOWN.includes(name)) row(name, str(value))
  }

  const { claims } = decoded
  if (claims === undefined) {
    // Malformed: show the lists as they are.
    for (const name of ['permissions', 'namespace_roles', 'roles', 'bans']) {
      if (payload[name] !== undefined) row(name, JSON.stringify(payload[name]))
    }
    return lines
  }
  lines.push(`Permissions (${claims.permissions.length})`)
  claims.permissions.forEach((p, i) => lines.push(`  #${i} ${describePermission(p)}`))
  lines.push(`Namespace roles (${claims.namespace_roles.length})`)
  for (const role of claims.namespace_roles) {
    const note =
      role.roleId === DEFAULT_USER_ROLE_ID
        ? ' (default user role: its permissions come from the role override of the namespace)'
        : ''
    lines.push(`  ${role.roleId} in ${JSON.stringify(role.namespace)}${note}`)
  }
  lines.push(`Roles (${claims.roles.length})`)
  for (const role of claims.roles) lines.push(`  ${role}`)
  lines.push(`Bans (${claims.bans.length})`)
  for (const ban of claims.bans) lines.push(`  ${describeBan(ban, now)}`)
  return lines
}

/** A JWT time claim as data for `--json`. */
function timeJson(seconds: unknown, now: number) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return undefined
  const ms = seconds * 1000
  return { epochSeconds: seconds, utc: new Date(ms).toISOString(), relative: relative(ms, now) }
}

/**
 * The `--json` form of a decoded token.
 *
 * @example
 * ```ts
 * JSON.stringify(decodedJson(decodeToken(token), Date.now()))
 * ```
 */
export function decodedJson(decoded: DecodedToken, now: number) {
  const { header, payload } = decoded
  const exp = typeof payload.exp === 'number' ? payload.exp * 1000 : undefined
  const flags = describeFlags(payload.jflgs)
  return {
    verified: false,
    header,
    payload,
    problems: decoded.problems,
    times: {
      issuedAt: timeJson(payload.iat, now),
      notBefore: timeJson(payload.nbf, now),
      expiresAt: timeJson(payload.exp, now),
      expired: exp === undefined ? undefined : exp <= now,
    },
    flags: {
      emailVerified: flags.emailVerified,
      phoneVerified: flags.phoneVerified,
      anonymous: flags.anonymous,
      otherBits: flags.otherBits,
    },
  }
}

/**
 * The text form of a decoded token.
 *
 * @example
 * ```ts
 * console.log(decodedText(decodeToken(token), Date.now()).join('\n'))
 * ```
 */
export function decodedText(decoded: DecodedToken, now: number): string[] {
  const lines = [
    'DECODED ONLY - NOTHING WAS VERIFIED (signature, expiry, key and revocation unchecked; use "verify")',
    'Header',
  ]
  for (const [name, value] of Object.entries(decoded.header)) {
    lines.push(`  ${name.padEnd(16)} ${str(value)}`)
  }
  lines.push('Claims', ...describeClaims(decoded, now))
  if (decoded.problems.length > 0) {
    lines.push('Problems (the SDK refuses the token for these before any other check)')
    for (const problem of decoded.problems) lines.push(`  ${problem}`)
  }
  return lines
}
