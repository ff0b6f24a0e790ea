/**
 * The commands that talk to an IAM: `verify`, `check`, `revocation-list`, `jwks`. Each returns
 * its exit code, its text lines and its `--json` value; `main` prints one or the other.
 *
 * @module
 */
import {
  IAM_ERROR_HTTP,
  IamClient,
  IamError,
  formatPermissionDecision,
  isUserRevoked,
  type IamClientOptions,
  type JwtClaims,
  type RevocationListSnapshot,
} from '../index.js'
import { EXIT, UsageError } from './args.js'
import { DecodeError, decodeToken, type DecodedToken } from './decode.js'
import { causeLine, claimTime, probability, relative, utc } from './text.js'

/** What a command produced. */
export interface Outcome {
  exitCode: number
  lines: string[]
  json: unknown
}

/** Codes meaning "the IAM could not be asked": exit code 3. */
const IAM_FAILURES = new Set([
  'ERR_IAM_UNAVAILABLE',
  'ERR_IAM_NOT_READY',
  'ERR_IAM_CLIENT_UNAUTHORIZED',
  'ERR_IAM_CLIENT_FORBIDDEN',
  'ERR_IAM_BAD_RESPONSE',
  'ERR_IAM_NOT_FOUND',
])

/** An IAM that could not be asked; `main` turns it into exit code 3 and one line. */
export class IamUnreachable extends Error {
  override readonly name = 'IamUnreachable'
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/** Rethrows an IAM failure as {@link IamUnreachable} with a one-line cause, anything else as is. */
function unreachable(error: unknown, options: IamClientOptions): never {
  if (error instanceof IamError && IAM_FAILURES.has(error.code)) {
    const at = `the IAM at ${options.baseUrl}`
    let message: string
    if (error.code === 'ERR_IAM_CLIENT_UNAUTHORIZED') {
      message =
        `${at} rejected the client credentials of "${options.clientId}": ` +
        'check --client-id and --client-secret (or IAM_CLIENT_ID and IAM_CLIENT_SECRET)'
    } else if (error.code === 'ERR_IAM_UNAVAILABLE' || error.code === 'ERR_IAM_NOT_READY') {
      message = `cannot reach ${at}: ${causeLine(error)}`
    } else {
      message = `${at} would not answer: ${causeLine(error)}`
    }
    throw new IamUnreachable(error.code, message)
  }
  throw error
}

async function withClient<T>(
  options: IamClientOptions,
  run: (client: IamClient) => Promise<T>,
): Promise<T> {
  let client: IamClient
  try {
    client = new IamClient(options)
  } catch (error) {
    // A TypeError naming the bad option: a configuration problem.
    throw new UsageError((error as Error).message)
  }
  try {
    return await run(client)
  } catch (error) {
    return unreachable(error, options)
  } finally {
    await client.close()
  }
}

function decodeQuietly(token: string): DecodedToken | undefined {
  try {
    return decodeToken(token)
  } catch (error) {
    if (error instanceof DecodeError) return undefined
    throw error
  }
}

function revocationListOf(snapshot: RevocationListSnapshot) {
  return {
    revokedTokens: snapshot.filter,
    revokedUsers: new Map(snapshot.revokedUsers.map((u) => [u.userId, u.revokedAtMs])),
  }
}

/** Why a token was refused, in words, from what the token and the client's state say. */
function refusalDetails(
  error: IamError,
  decoded: DecodedToken | undefined,
  client: IamClient,
  now: number,
): string[] {
  const header = decoded?.header ?? {}
  const payload = decoded?.payload ?? {}
  const leeway = `${client.options.clockToleranceMs / 1000} s`
  switch (error.code) {
    case 'ERR_IAM_TOKEN_EXPIRED':
      return [
        `exp ${claimTime(payload.exp, now, 'expires', 'expired') ?? '?'}; clock leeway ${leeway}`,
      ]
    case 'ERR_IAM_TOKEN_NOT_YET_VALID':
      return [
        `nbf ${claimTime(payload.nbf, now, 'valid', 'valid since') ?? '?'}; clock leeway ${leeway}`,
      ]
    case 'ERR_IAM_TOKEN_KEY_UNKNOWN': {
      const kids = client.keySetSnapshot()?.keys.map((k) => k.kid) ?? []
      return [
        `the token's key id ${JSON.stringify(header.kid)} is not among the IAM's keys: ${kids.join(', ') || '(none)'}`,
        'signed by another IAM (another environment?), or by a key retired since',
      ]
    }
    case 'ERR_IAM_TOKEN_ALGORITHM':
      return [
        `the token is signed with ${JSON.stringify(header.alg)}; accepted: ${client.options.algorithms.join(', ')} (option algorithms, IAM_ALGORITHMS)`,
      ]
    case 'ERR_IAM_TOKEN_SIGNATURE':
      return [
        `the signature does not verify with key ${JSON.stringify(header.kid)}: the token was changed, or forged`,
      ]
    case 'ERR_IAM_USER_REVOKED': {
      const sub = typeof payload.sub === 'string' ? payload.sub : ''
      const user = client.revocationListSnapshot()?.revokedUsers.find((u) => u.userId === sub)
      const iat = claimTime(payload.iat, now, 'issued', 'issued') ?? '(no iat)'
      return [
        `user ${JSON.stringify(sub)} was revoked at ${user ? `${utc(user.revokedAtMs)} (${relative(user.revokedAtMs, now)})` : '?'}`,
        `the token was issued at ${iat}, not after the revocation: every such token is refused`,
      ]
    }
    case 'ERR_IAM_TOKEN_REVOKED': {
      const rate = client.revocationListSnapshot()?.revokedTokens.falsePositiveRate ?? 0
      return [
        `the token is in the revocation list's filter of revoked tokens (false-positive rate ${probability(rate)})`,
      ]
    }
    case 'ERR_IAM_TOKEN_MALFORMED':
      return decoded?.problems ?? ['the token is not a JWT in compact form']
    default:
      return []
  }
}

interface Validation {
  claims?: JwtClaims
  error?: IamError
  details: string[]
}

async function validate(client: IamClient, token: string, now: number): Promise<Validation> {
  await client.startLocalValidation()
  try {
    return { claims: await client.validateAndParseClaims(token), details: [] }
  } catch (error) {
    if (!(error instanceof IamError) || IAM_FAILURES.has(error.code)) throw error
    return { error, details: refusalDetails(error, decodeQuietly(token), client, now) }
  }
}

function errorJson(error: IamError) {
  const http = IAM_ERROR_HTTP[error.code]
  return {
    code: error.code,
    message: error.message,
    status: http.status,
    errorCode: http.errorCode,
  }
}

function invalidLines(v: Validation): string[] {
  const error = v.error as IamError
  const http = IAM_ERROR_HTTP[error.code]
  return [
    `INVALID ${error.code}: ${error.message}`,
    `  a protected service answers HTTP ${http.status}, errorCode ${http.errorCode}`,
    ...v.details.map((d) => `  ${d}`),
  ]
}

function tokenSummary(claims: JwtClaims, now: number): string[] {
  const who = claims.sub
    ? `user ${claims.sub}`
    : `client ${claims.client_id ?? '?'} (no sub: a client token)`
  return [
    `  ${'subject'.padEnd(16)} ${who}`,
    `  ${'namespace'.padEnd(16)} ${claims.namespace || '(none)'}`,
    `  ${'client_id'.padEnd(16)} ${claims.client_id ?? '(none)'}`,
    `  ${'exp'.padEnd(16)} ${claimTime(claims.exp, now, 'expires', 'expired') ?? '?'}`,
  ]
}

/**
 * `verify <token>`: full local validation.
 *
 * @example
 * ```ts
 * verify(clientOptions(invocation, env), token, Date.now())
 * ```
 */
export function verify(options: IamClientOptions, token: string, now: number): Promise<Outcome> {
  return withClient(options, async (client) => {
    const v = await validate(client, token, now)
    const base = { baseUrl: client.options.baseUrl }
    if (v.claims === undefined) {
      return {
        exitCode: EXIT.refused,
        lines: invalidLines(v),
        json: { valid: false, ...base, error: errorJson(v.error as IamError), details: v.details },
      }
    }
    const header = decodeQuietly(token)?.header ?? {}
    const key = client.keySetSnapshot()?.keys.find((k) => k.kid === header.kid)
    const users = client.revocationListSnapshot()?.revokedUsers.length ?? 0
    return {
      exitCode: EXIT.ok,
      lines: [
        `VALID the token passes local validation against ${client.options.baseUrl}`,
        `  ${'key'.padEnd(16)} ${String(header.kid)} (${String(header.alg)}, RSA ${key?.modulusBits ?? '?'} bits)`,
        ...tokenSummary(v.claims, now),
        `  ${'checked'.padEnd(16)} signature (JWKS), exp/nbf (leeway ${client.options.clockToleranceMs / 1000} s), revoked tokens, revoked users (${users})`,
      ],
      json: { valid: true, ...base, keyId: header.kid, algorithm: header.alg, claims: v.claims },
    }
  })
}

/**
 * `check <token> --permission …`: the decision and every grant looked at.
 *
 * @example
 * ```ts
 * check(options, token, { resource: 'NAMESPACE:ns:USER:u1', action: 4 }, {}, Date.now())
 * ```
 */
export function check(
  options: IamClientOptions,
  token: string,
  required: { resource: string; action: number },
  resources: Record<string, string>,
  now: number,
): Promise<Outcome> {
  return withClient(options, async (client) => {
    const v = await validate(client, token, now)
    const requiredJson = { ...required, resources }
    if (v.claims === undefined) {
      return {
        exitCode: EXIT.refused,
        lines: [
          ...invalidLines(v),
          'No permission was checked: the token is refused before its permissions are looked at.',
        ],
        json: {
          allowed: false,
          required: requiredJson,
          token: { valid: false, error: errorJson(v.error as IamError), details: v.details },
        },
      }
    }
    // Role permissions and namespace contexts are read with this service's own token.
    await client.clientTokenGrant()
    const decision = await client.explainPermission(v.claims, required, resources)
    const explanation = formatPermissionDecision(decision)
    const claims = v.claims
    const who = claims.sub ? `user ${claims.sub}` : `client ${claims.client_id ?? '?'}`
    return {
      exitCode: decision.allowed ? EXIT.ok : EXIT.refused,
      lines: [
        `Token: ${who} in namespace ${JSON.stringify(claims.namespace)}, valid; exp ${claimTime(claims.exp, now, 'expires', 'expired')}`,
        ...explanation,
      ],
      json: {
        allowed: decision.allowed,
        required: requiredJson,
        token: {
          valid: true,
          sub: claims.sub,
          namespace: claims.namespace,
          clientId: claims.client_id,
        },
        decision,
        explanation,
      },
    }
  })
}

/**
 * `revocation-list [--token T] [--user U]`: the list, and membership tests.
 *
 * @example
 * ```ts
 * revocationList(options, undefined, ['user-7'], Date.now())
 * ```
 */
export function revocationList(
  options: IamClientOptions,
  token: string | undefined,
  users: readonly string[],
  now: number,
): Promise<Outcome> {
  return withClient(options, async (client) => {
    await client.startLocalValidation()
    const snapshot = client.revocationListSnapshot() as RevocationListSnapshot
    const f = snapshot.revokedTokens
    const lines = [
      `Revocation list of ${client.options.baseUrl}`,
      `  revoked tokens   a bloom filter of ${f.bits} bits, ${f.hashFunctions} hash functions, ${f.bitsSet} bits set: about ${f.approximateTokens} token(s)`,
      `                   false-positive rate ${probability(f.falsePositiveRate)} (a token never revoked reported as revoked)`,
      `  revoked users    ${snapshot.revokedUsers.length}`,
      ...snapshot.revokedUsers.map(
        (u) => `    ${u.userId}  revoked ${utc(u.revokedAtMs)} (${relative(u.revokedAtMs, now)})`,
      ),
    ]
    const json: Record<string, unknown> = {
      baseUrl: client.options.baseUrl,
      revokedTokens: f,
      revokedUsers: snapshot.revokedUsers,
    }
    let revoked = false
    const list = revocationListOf(snapshot)
    if (token !== undefined) {
      const inFilter = snapshot.filter.mightContain(token)
      const payload = decodeQuietly(token)?.payload
      const sub = typeof payload?.sub === 'string' ? payload.sub : undefined
      const iat = typeof payload?.iat === 'number' ? payload.iat : undefined
      const userRevoked = sub !== undefined && isUserRevoked(list, sub, iat)
      revoked ||= inFilter || userRevoked
      lines.push(
        inFilter
          ? `Token: REVOKED - in the filter (or a false positive, probability ${probability(f.falsePositiveRate)})`
          : 'Token: not in the filter of revoked tokens',
      )
      if (sub !== undefined) {
        lines.push(
          userRevoked
            ? `  its user ${sub} is revoked, and the token was issued before: REVOKED`
            : `  its user ${sub} is not revoked for this token`,
        )
      }
      json.token = { inFilter, userId: sub, userRevoked, revoked: inFilter || userRevoked }
    }
    const userResults = users.map((userId) => {
      const entry = snapshot.revokedUsers.find((u) => u.userId === userId)
      revoked ||= entry !== undefined
      lines.push(
        entry
          ? `User ${userId}: REVOKED at ${utc(entry.revokedAtMs)}: their tokens issued until then are refused`
          : `User ${userId}: not revoked`,
      )
      return { userId, revoked: entry !== undefined, revokedAt: entry?.revokedAt }
    })
    if (users.length > 0) json.users = userResults
    if (token !== undefined || users.length > 0) json.revoked = revoked
    return { exitCode: revoked ? EXIT.refused : EXIT.ok, lines, json }
  })
}

/**
 * `jwks`: the keys the IAM signs tokens with.
 *
 * @example
 * ```ts
 * (await jwks(options)).lines
 * ```
 */
export function jwks(options: IamClientOptions): Promise<Outcome> {
  return withClient(options, async (client) => {
    await client.startLocalValidation()
    const keys = client.keySetSnapshot()?.keys ?? []
    const lines = [
      `JWKS of ${client.options.baseUrl}: ${keys.length} key(s)`,
      ...keys.map(
        (k) =>
          `  ${k.kid}  ${k.kty} ${k.modulusBits} bits, e=${k.publicExponent}, alg ${k.alg ?? '(not declared)'}, use ${k.use ?? '(not declared)'}`,
      ),
      `Accepted token algorithms: ${client.options.algorithms.join(', ')} (option algorithms, IAM_ALGORITHMS)`,
    ]
    return {
      exitCode: EXIT.ok,
      lines,
      json: { baseUrl: client.options.baseUrl, keys, algorithms: client.options.algorithms },
    }
  })
}
