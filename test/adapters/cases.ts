/**
 * THE case table of the HTTP integrations, as data: every adapter (Express 4 and 5, Fastify,
 * fetch) runs these rows unchanged through `harness.ts`, over real HTTP against the emulator.
 *
 * - A profile is an app: its HTTP options and its routes (what each route requires).
 * - A row is one request to one profile's app and what must come back: status, `errorCode`
 *   (`null` for a success), headers present / absent / equal / matching, body fields.
 * - Tokens are named; `harness.ts` mints them in the emulator (see `TOKENS`).
 * - Request templates: `{token}` is the row's token, `{app}` the app's origin.
 */

import type { EmulatorEndpoint, EmulatorFault } from '../../src/emulator/index.js'

/** Tokens the scenario mints (see `harness.ts`). */
export type TokenName =
  /** `sample-userid`, direct permission `NAMESPACE:sample-namespace:USER:sample-userid` 4, web client. */
  | 'allowed'
  /** `other-userid`, no permission, web client. */
  | 'denied'
  /** Allowed through a namespace role (`namespace_roles`, regular role). */
  | 'roleNamespace'
  /** Allowed through a global role (`roles`). */
  | 'roleGlobal'
  /** Allowed through the default user role's override in the namespace (`namespace_roles` `*`). */
  | 'roleOverride'
  /** Same permission as `allowed`, issued by a client with no redirect URI registered. */
  | 'noRedirectClient'
  /** Same permission as `allowed`, issued for a client the IAM does not know. */
  | 'unknownClient'
  /** Like `allowed`, each for its own client (`fresh-app-N`), whose information nobody cached. */
  | 'freshClient1'
  | 'freshClient2'
  | 'freshClient3'
  | 'freshClient4'
  | 'freshClient5'
  /** A token of namespace `excluded-namespace` (excluded from the subdomain check). */
  | 'excludedNamespace'
  | 'expired'
  | 'notYetValid'
  | 'revoked'
  /** `revoked` with the last signature character re-encoded (same bytes, other text). */
  | 'revokedReencoded'
  /** `allowed` with the last signature character re-encoded (same bytes, other text). */
  | 'allowedReencoded'
  /** `sample-userid` with `NAMESPACE:sample-studio-:USER:*` 4 (the studio rule; `studiogame`). */
  | 'studioPermission'
  | 'revokedUser'
  /** `sample-userid` with `scope: 'openid profile email'` (no permission). */
  | 'scoped'
  | 'badSignature'
  | 'unknownKid'
  | 'algNone'
  | 'hs256'

/** Placeholder values: fixed, or taken from request headers (a function of the request). */
export type ResourcesSpec =
  Readonly<Record<string, string>> | { readonly fromHeaders: Readonly<Record<string, string>> }

/** One route of a profile's app. The handler answers `{ ok, sub, tokenLocation }` as JSON. */
export interface RouteSpec {
  readonly path: string
  readonly methods: readonly ('GET' | 'POST' | 'PUT' | 'DELETE')[]
  /** Protection; absent = unprotected. `{}` = a valid token only. */
  readonly guard?: {
    readonly permission?: Readonly<Record<string, string | number>>
    readonly resources?: ResourcesSpec
    readonly csrfProtect?: boolean
    readonly optional?: boolean
    readonly scopes?: readonly string[]
    /** `check`: the route's check passes when the token's `sub` is this one. */
    readonly checkSubIs?: string
  }
  /** Per-route CORS (`corsOptions(headers, { preflight })`), also mounted on `OPTIONS path`. */
  readonly cors?: {
    readonly headers: Readonly<Record<string, string | boolean | readonly string[]>>
    readonly preflight?: boolean
  }
}

/** An app: HTTP options (camelCase) and routes; `iam` says how the IAM behaves at start. */
export interface ProfileSpec {
  readonly options: Readonly<Record<string, unknown>>
  readonly routes: readonly RouteSpec[]
  /** `slow`: the token grant is delayed `delayMs`; `down`: the IAM is unreachable. */
  readonly iam?: { readonly kind: 'slow'; readonly delayMs: number } | { readonly kind: 'down' }
  /** Built for each row (not shared), requests sent without waiting for readiness. */
  readonly fresh?: boolean
}

/** Expectation on one response header (names lower case). */
export type HeaderExpectation =
  | { readonly present: true }
  | { readonly absent: true }
  | { readonly equals: string }
  | { readonly matches: string }
  | { readonly includes: string }

/**
 * One request. Header values are templates (`{token}`: the row's token, `{token:name}`: a named
 * one, `{app}`); a list sends the header once per item.
 */
export interface CaseRequest {
  readonly method?: string
  readonly path: string
  readonly token?: TokenName
  /** Where `token` goes: `Authorization: Bearer` (default), the `access_token` cookie, or both. */
  readonly tokenIn?: 'header' | 'cookie' | 'both'
  readonly headers?: Readonly<Record<string, string | readonly string[]>>
  /**
   * The path has `.`/`..` segments (plain or percent-encoded) that must reach the router as
   * sent. Servers that resolve them first (web `Request` URLs, `app.inject`) answer such rows
   * with a 404: see `forPathResolvingServer` in harness.ts.
   */
  readonly rawPath?: boolean
}

export interface CaseRow {
  readonly name: string
  readonly profile: ProfileName
  readonly request: CaseRequest
  /** A fault the emulator applies to one endpoint while this row's request is answered. */
  readonly fault?: { readonly endpoint: EmulatorEndpoint; readonly fault: EmulatorFault }
  readonly expect: {
    readonly status: number
    /** Wire `errorCode` of the JSON body; `null` when the answer is not an error. */
    readonly errorCode: number | null
    readonly headers?: Readonly<Record<string, HeaderExpectation>>
    /** Fields the JSON body must have. */
    readonly body?: Readonly<Record<string, unknown>>
    /** The body must be empty (preflight answers). */
    readonly emptyBody?: boolean
    /** The IAM's admin endpoints (roles, overrides, clients, namespaces) must not be called. */
    readonly noIamCalls?: boolean
  }
}

const PERMISSION = { Action: 4, Resource: 'NAMESPACE:{namespace}:USER:{userId}' } as const
const RESOURCES = { '{namespace}': 'sample-namespace', '{userId}': 'sample-userid' } as const
const SEED_CORS = {
  'Access-Control-Allow-Headers': ['Device-Id', 'Device-Os', 'Device-Type'],
} as const

const direct: RouteSpec = {
  path: '/protected',
  methods: ['GET', 'POST'],
  guard: { permission: PERMISSION, resources: RESOURCES },
}
const tokenOnly: RouteSpec = { path: '/token-only', methods: ['GET', 'POST'], guard: {} }
const open: RouteSpec = { path: '/open', methods: ['GET', 'POST'] }
const corsRoute: RouteSpec = {
  path: '/cors',
  methods: ['GET', 'POST'],
  guard: {},
  cors: { headers: SEED_CORS },
}

/** Every app the rows talk to. */
export const PROFILES = {
  default: {
    options: {},
    routes: [
      direct,
      tokenOnly,
      open,
      corsRoute,
      {
        path: '/csrf-off',
        methods: ['POST'],
        guard: { permission: PERMISSION, resources: RESOURCES, csrfProtect: false },
      },
      {
        path: '/lower-case-permission',
        methods: ['GET'],
        guard: {
          permission: { action: 4, resource: 'NAMESPACE:sample-namespace:USER:sample-userid' },
        },
      },
      {
        path: '/ns/:namespace/users/:userId',
        methods: ['GET'],
        guard: { permission: PERMISSION },
      },
      {
        path: '/fn/users/:userId',
        methods: ['GET'],
        guard: {
          permission: PERMISSION,
          resources: { fromHeaders: { '{namespace}': 'x-namespace' } },
        },
      },
      { path: '/optional', methods: ['GET', 'POST'], guard: { optional: true } },
      {
        path: '/optional-permission',
        methods: ['GET'],
        guard: { optional: true, permission: PERMISSION, resources: RESOURCES },
      },
      { path: '/scoped', methods: ['GET'], guard: { scopes: ['profile', 'email'] } },
      { path: '/checked', methods: ['GET'], guard: { checkSubIs: 'sample-userid' } },
    ],
  },
  strict: { options: { strictReferer: true }, routes: [direct] },
  subdomainReferer: { options: { allowSubdomainReferer: true }, routes: [direct] },
  subdomainNamespace: {
    options: {
      subdomainValidationEnable: true,
      subdomainValidationExcludedNamespaces: ['excluded-namespace'],
    },
    routes: [direct, tokenOnly],
  },
  csrfOff: {
    options: { csrfProtection: false },
    routes: [
      direct,
      {
        path: '/csrf-on',
        methods: ['POST'],
        guard: { permission: PERMISSION, resources: RESOURCES, csrfProtect: true },
      },
    ],
  },
  customToken: {
    options: {
      tokenLocations: ['cookies', 'headers'],
      tokenHeaderName: 'X-Access-Token',
      tokenHeaderType: '',
      tokenCookieName: 'tok',
    },
    routes: [direct],
  },
  corsList: {
    options: {
      corsEnable: true,
      corsOrigin: 'http://allowed.example, http://also-allowed.example',
      corsHeaders: 'X-App-Header',
      corsCredentials: true,
    },
    routes: [direct, open, corsRoute],
  },
  corsAny: { options: { corsEnable: true }, routes: [direct, open] },
  corsRouteRestricts: {
    options: { corsEnable: true },
    routes: [
      open,
      {
        path: '/cors-restricted',
        methods: ['GET', 'POST'],
        guard: {},
        cors: { headers: { 'Access-Control-Allow-Origin': 'http://allowed.example' } },
      },
    ],
  },
  corsAnyUnsafe: {
    options: { corsEnable: true, corsReflectAnyOriginUnsafe: true },
    routes: [direct, open],
  },
  slowStart: {
    options: { readyTimeoutMs: 10_000 },
    routes: [direct],
    iam: { kind: 'slow', delayMs: 600 },
    fresh: true,
  },
  slowTimeout: {
    options: { readyTimeoutMs: 200 },
    routes: [direct],
    iam: { kind: 'slow', delayMs: 3_000 },
    fresh: true,
  },
  down: {
    options: { readyTimeoutMs: 1_000 },
    routes: [direct, open],
    iam: { kind: 'down' },
    fresh: true,
  },
} as const satisfies Record<string, ProfileSpec>

export type ProfileName = keyof typeof PROFILES

// Header expectations used often.
const CHALLENGE_MISSING = { 'www-authenticate': { equals: 'Bearer realm="iam"' } } as const
const CHALLENGE_INVALID = {
  'www-authenticate': {
    matches: '^Bearer realm="iam", error="invalid_token", error_description=".+"$',
  },
} as const
const CHALLENGE_AMBIGUOUS = {
  'www-authenticate': {
    matches: '^Bearer realm="iam", error="invalid_request", error_description=".+"$',
  },
} as const
const CHALLENGE_SCOPE = {
  'www-authenticate': { matches: '^Bearer realm="iam", error="insufficient_scope"' },
} as const
const NO_CHALLENGE = { 'www-authenticate': { absent: true } } as const
const OK_HEADER = { ok: true, tokenLocation: 'header' } as const
const OK_COOKIE = { ok: true, tokenLocation: 'cookie' } as const
const GOOD_REFERER = 'https://app.example.com/app/page'

function unauthorized(
  name: string,
  request: CaseRequest,
  profile: ProfileName = 'default',
): CaseRow {
  return {
    name,
    profile,
    request,
    expect: { status: 401, errorCode: 20001, headers: CHALLENGE_INVALID },
  }
}
function badReferer(name: string, request: CaseRequest, profile: ProfileName = 'default'): CaseRow {
  return {
    name,
    profile,
    request,
    expect: { status: 401, errorCode: 20023, headers: CHALLENGE_INVALID },
  }
}
function okHeader(name: string, request: CaseRequest, profile: ProfileName = 'default'): CaseRow {
  return {
    name,
    profile,
    request,
    expect: { status: 200, errorCode: null, body: OK_HEADER, headers: NO_CHALLENGE },
  }
}
function okCookie(name: string, request: CaseRequest, profile: ProfileName = 'default'): CaseRow {
  return { name, profile, request, expect: { status: 200, errorCode: null, body: OK_COOKIE } }
}
const cookie = (
  token: TokenName,
  headers: Record<string, string> = {},
  path = '/protected',
): CaseRequest => ({
  method: 'POST',
  path,
  token,
  tokenIn: 'cookie',
  headers,
})

/** The rows. */
export const CASES: readonly CaseRow[] = [
  // ---------------------------------------------------------------- tokens
  {
    name: 'no token: 401 / 20001, challenge without error=',
    profile: 'default',
    request: { path: '/protected' },
    expect: {
      status: 401,
      errorCode: 20001,
      headers: { ...CHALLENGE_MISSING, 'content-type': { matches: '^application/json' } },
    },
  },
  unauthorized('malformed header: "Bearer" alone', {
    path: '/protected',
    headers: { authorization: 'Bearer' },
  }),
  {
    name: 'another scheme (Basic) is no bearer token: 401, challenge without error= (RFC 6750 3.1)',
    profile: 'default',
    request: { path: '/protected', headers: { authorization: 'Basic dXNlcjpwYXNzd29yZA==' } },
    expect: { status: 401, errorCode: 20001, headers: CHALLENGE_MISSING },
  },
  okCookie('another scheme in the header: the cookie token is used (CSRF checked)', {
    method: 'POST',
    path: '/protected',
    token: 'allowed',
    headers: {
      authorization: 'Basic dXNlcjpwYXNzd29yZA==',
      cookie: 'access_token={token}',
      referer: GOOD_REFERER,
    },
  }),
  {
    name: 'Authorization sent twice: 401 invalid_request, whichever comes first',
    profile: 'default',
    request: {
      path: '/protected',
      headers: { authorization: ['Bearer {token:allowed}', 'Bearer {token:denied}'] },
    },
    expect: { status: 401, errorCode: 20001, headers: CHALLENGE_AMBIGUOUS },
  },
  {
    name: 'Authorization sent twice, same token: still ambiguous',
    profile: 'default',
    request: {
      path: '/protected',
      headers: { authorization: ['Bearer {token:allowed}', 'Bearer {token:allowed}'] },
    },
    expect: { status: 401, errorCode: 20001, headers: CHALLENGE_AMBIGUOUS },
  },
  {
    name: 'Authorization with two comma-joined credentials: invalid_request',
    profile: 'default',
    request: {
      path: '/protected',
      headers: { authorization: 'Bearer {token:denied}, Bearer {token:allowed}' },
    },
    expect: { status: 401, errorCode: 20001, headers: CHALLENGE_AMBIGUOUS },
  },
  unauthorized('malformed header: extra part', {
    path: '/protected',
    token: 'allowed',
    headers: { authorization: 'Bearer {token} extra' },
  }),
  unauthorized('malformed header: not a JWT', {
    path: '/protected',
    headers: { authorization: 'Bearer abc' },
  }),
  unauthorized('malformed header: a character outside base64url (the verifier refuses it)', {
    path: '/protected',
    headers: { authorization: 'Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln!' },
  }),
  unauthorized('malformed header: three empty-ish parts', {
    path: '/protected',
    headers: { authorization: 'Bearer a.b.' },
  }),
  unauthorized('malformed header wins over a good cookie', {
    path: '/protected',
    token: 'allowed',
    headers: { authorization: 'Bearer', cookie: 'access_token={token}', referer: GOOD_REFERER },
  }),
  okHeader('scheme compared case-insensitively', {
    path: '/protected',
    token: 'allowed',
    headers: { authorization: 'bEaReR {token}' },
  }),
  unauthorized('expired token', { path: '/protected', token: 'expired' }),
  unauthorized('token not yet valid', { path: '/protected', token: 'notYetValid' }),
  unauthorized('revoked token', { path: '/protected', token: 'revoked' }),
  unauthorized('revoked token in another base64url spelling (same signature bytes)', {
    path: '/protected',
    token: 'revokedReencoded',
  }),
  unauthorized('a non-canonical base64url signature is malformed', {
    path: '/protected',
    token: 'allowedReencoded',
  }),
  unauthorized('revoked user', { path: '/protected', token: 'revokedUser' }),
  unauthorized('bad signature', { path: '/protected', token: 'badSignature' }),
  unauthorized('unknown kid', { path: '/protected', token: 'unknownKid' }),
  unauthorized('alg none', { path: '/protected', token: 'algNone' }),
  unauthorized('HS256 signed with a guessable secret', { path: '/protected', token: 'hs256' }),
  okHeader('header token with the direct permission', { path: '/protected', token: 'allowed' }),
  {
    name: 'req.iam carries the claims',
    profile: 'default',
    request: { path: '/protected', token: 'allowed' },
    expect: {
      status: 200,
      errorCode: null,
      body: { ok: true, sub: 'sample-userid', namespace: 'sample-namespace' },
    },
  },
  okHeader('permission keys in lower case', { path: '/lower-case-permission', token: 'allowed' }),
  okHeader('POST with a header token', { method: 'POST', path: '/protected', token: 'allowed' }),
  okHeader('header and cookie: the header wins, no CSRF check', {
    method: 'POST',
    path: '/protected',
    token: 'allowed',
    tokenIn: 'both',
    headers: { referer: 'https://evil.example.net/' },
  }),

  // ---------------------------------------------------------------- permissions
  {
    name: 'wrong permission: 403 / 20013 insufficient_scope',
    profile: 'default',
    request: { path: '/protected', token: 'denied' },
    expect: { status: 403, errorCode: 20013, headers: CHALLENGE_SCOPE },
  },
  okHeader('permission through a namespace role', { path: '/protected', token: 'roleNamespace' }),
  okHeader('permission through a global role', { path: '/protected', token: 'roleGlobal' }),
  okHeader('permission through the default role override', {
    path: '/protected',
    token: 'roleOverride',
  }),
  okHeader('no permission required: any valid token', { path: '/token-only', token: 'denied' }),
  unauthorized('no permission required: the token must still be valid', {
    path: '/token-only',
    token: 'expired',
  }),
  okHeader('route placeholders from params', {
    path: '/ns/sample-namespace/users/sample-userid',
    token: 'allowed',
  }),
  {
    name: 'route placeholders: another user is 403',
    profile: 'default',
    request: { path: '/ns/sample-namespace/users/other-userid', token: 'allowed' },
    expect: { status: 403, errorCode: 20013, headers: CHALLENGE_SCOPE },
  },
  {
    name: 'route placeholders: a value with a section separator is 403',
    profile: 'default',
    request: { path: '/ns/sample-namespace/users/sample-userid:extra', token: 'allowed' },
    expect: { status: 403, errorCode: 20013 },
  },
  {
    name: 'route placeholders: a value with placeholder syntax is 403',
    profile: 'default',
    request: { path: '/ns/sample-namespace/users/%7BuserId%7D', token: 'allowed' },
    expect: { status: 403, errorCode: 20013 },
  },
  ...(
    [
      ['..', 'roleOverride'],
      ['.', 'roleOverride'],
      ['%2E%2E', 'roleOverride'],
      ['%2e', 'roleOverride'],
      ['..', 'studioPermission'],
      ['%2E%2E', 'studioPermission'],
    ] as const
  ).map(([segment, token]): CaseRow => ({
    name: `route placeholders: ${segment} is 403 before any IAM call (${token})`,
    profile: 'default',
    request: { path: `/ns/${segment}/users/sample-userid`, token, rawPath: true },
    expect: { status: 403, errorCode: 20013, noIamCalls: true },
  })),
  ...['..', '.'].map((value): CaseRow => ({
    name: `resources function: ${value} is 403 before any IAM call`,
    profile: 'default',
    request: {
      path: '/fn/users/sample-userid',
      token: 'roleOverride',
      headers: { 'x-namespace': value },
    },
    expect: { status: 403, errorCode: 20013, noIamCalls: true },
  })),
  okHeader('the studio-namespace rule still allows a game of the studio', {
    path: '/ns/studiogame/users/sample-userid',
    token: 'studioPermission',
  }),
  okHeader('resources as a function of the request', {
    path: '/fn/users/sample-userid',
    token: 'allowed',
    headers: { 'x-namespace': 'sample-namespace' },
  }),
  {
    name: 'resources function: another namespace is 403',
    profile: 'default',
    request: {
      path: '/fn/users/sample-userid',
      token: 'allowed',
      headers: { 'x-namespace': 'other-namespace' },
    },
    expect: { status: 403, errorCode: 20013 },
  },

  // ---------------------------------------------------------------- route options
  {
    name: 'optional: no token, the handler runs unauthenticated (no context)',
    profile: 'default',
    request: { path: '/optional' },
    expect: { status: 200, errorCode: null, body: { ok: true, sub: null, tokenLocation: null } },
  },
  okHeader('optional: a valid token gives the context', { path: '/optional', token: 'denied' }),
  unauthorized('optional: a bad token is still 401', { path: '/optional', token: 'expired' }),
  unauthorized('optional: a malformed header is still 401', {
    path: '/optional',
    headers: { authorization: 'Bearer abc' },
  }),
  badReferer(
    'optional: a cookie token still passes CSRF',
    cookie('allowed', { referer: 'https://evil.example.net/' }, '/optional'),
  ),
  {
    name: 'optional with a permission: a token without it is 403',
    profile: 'default',
    request: { path: '/optional-permission', token: 'denied' },
    expect: { status: 403, errorCode: 20013, headers: CHALLENGE_SCOPE },
  },
  {
    name: 'optional with a permission: no token runs unauthenticated',
    profile: 'default',
    request: { path: '/optional-permission' },
    expect: { status: 200, errorCode: null, body: { ok: true, sub: null } },
  },
  {
    name: 'scopes: a token lacking them is 403 insufficient_scope naming them',
    profile: 'default',
    request: { path: '/scoped', token: 'allowed' },
    expect: {
      status: 403,
      errorCode: 20013,
      headers: {
        'www-authenticate': { matches: 'error="insufficient_scope".*scope="profile email"' },
      },
    },
  },
  okHeader('scopes: a token with all of them passes', { path: '/scoped', token: 'scoped' }),
  okHeader('check: true lets the request through', { path: '/checked', token: 'allowed' }),
  {
    name: 'check: false is 403 / 20013',
    profile: 'default',
    request: { path: '/checked', token: 'denied' },
    expect: { status: 403, errorCode: 20013, headers: CHALLENGE_SCOPE },
  },

  // ---------------------------------------------------------------- CSRF (cookie tokens)
  okCookie('cookie + Referer under a redirect URI', cookie('allowed', { referer: GOOD_REFERER })),
  okCookie(
    'cookie + Origin only (Referrer-Policy: no-referrer)',
    cookie('allowed', { origin: 'https://app.example.com' }),
  ),
  badReferer(
    'cookie + foreign Referer',
    cookie('allowed', { referer: 'https://evil.example.net/app' }),
  ),
  badReferer('cookie + neither Referer nor Origin', cookie('allowed')),
  badReferer(
    'cookie + good Referer but foreign Origin',
    cookie('allowed', { referer: GOOD_REFERER, origin: 'https://evil.example.net' }),
  ),
  badReferer('cookie + Origin: null', cookie('allowed', { origin: 'null' })),
  badReferer(
    'cookie + Referer on another port',
    cookie('allowed', { referer: 'https://app.example.com:8443/app' }),
  ),
  badReferer(
    'cookie + Referer with another scheme',
    cookie('allowed', { referer: 'http://app.example.com/app' }),
  ),
  okCookie(
    'default mode: any path of the redirect origin',
    cookie('allowed', { referer: 'https://app.example.com/other' }),
  ),
  badReferer(
    'default mode: a subdomain is refused',
    cookie('allowed', { referer: 'https://sub.example.com/' }),
  ),
  okCookie(
    'strict: Referer under the redirect path',
    cookie('allowed', { referer: GOOD_REFERER }),
    'strict',
  ),
  badReferer(
    'strict: Referer outside the redirect path',
    cookie('allowed', { referer: 'https://app.example.com/other' }),
    'strict',
  ),
  badReferer(
    'strict: path prefix on a segment boundary',
    cookie('allowed', { referer: 'https://app.example.com/application' }),
    'strict',
  ),
  okCookie(
    'subdomain referer: a subdomain passes',
    cookie('allowed', { referer: 'https://sub.example.com/x' }),
    'subdomainReferer',
  ),
  badReferer(
    'subdomain referer: dot boundary (evilexample.com)',
    cookie('allowed', { referer: 'https://evilexample.com/x' }),
    'subdomainReferer',
  ),
  okCookie(
    'client with no redirect URI registered passes',
    cookie('noRedirectClient', { referer: 'https://evil.example.net/' }),
  ),
  badReferer('client unknown to the IAM', cookie('unknownClient', { referer: GOOD_REFERER })),
  ...(
    [
      ['freshClient1', {}],
      ['freshClient2', { redirectUri: null }],
      ['freshClient3', { redirectUri: ['https://example.com'] }],
      ['freshClient4', { redirectUri: 5 }],
    ] as const
  ).map(([token, body]): CaseRow => ({
    ...badReferer(
      `client information answering ${JSON.stringify(body)}: CSRF fails closed`,
      cookie(token, { referer: 'https://evil.example.net/' }),
    ),
    fault: { endpoint: 'clientInfo', fault: { status: 200, body } },
  })),
  {
    name: 'client information unreachable (5xx): 503, not a CSRF pass',
    profile: 'default',
    request: cookie('freshClient5', { referer: 'https://evil.example.net/' }),
    fault: { endpoint: 'clientInfo', fault: { status: 503 } },
    expect: { status: 503, errorCode: 20000, headers: NO_CHALLENGE },
  },
  okCookie(
    'csrfProtect: false on the route',
    cookie('allowed', { referer: 'https://evil.example.net/' }, '/csrf-off'),
  ),
  okCookie(
    'IAM_CSRF_PROTECTION off',
    cookie('allowed', { referer: 'https://evil.example.net/' }),
    'csrfOff',
  ),
  badReferer(
    'csrfProtect: true overrides IAM_CSRF_PROTECTION off',
    cookie('allowed', { referer: 'https://evil.example.net/' }, '/csrf-on'),
    'csrfOff',
  ),
  {
    name: 'cookie token, wrong permission after CSRF passes: 403',
    profile: 'default',
    request: cookie('denied', { referer: GOOD_REFERER }),
    expect: { status: 403, errorCode: 20013, headers: CHALLENGE_SCOPE },
  },

  // ---------------------------------------------------------------- token location settings
  okCookie(
    'custom cookie name',
    {
      path: '/protected',
      token: 'allowed',
      headers: { cookie: 'tok={token}', referer: GOOD_REFERER },
    },
    'customToken',
  ),
  okHeader(
    'custom header with a bare token',
    { path: '/protected', token: 'allowed', headers: { 'x-access-token': '{token}' } },
    'customToken',
  ),
  unauthorized(
    'custom header: a scheme is malformed when the type is empty',
    { path: '/protected', token: 'allowed', headers: { 'x-access-token': 'Bearer {token}' } },
    'customToken',
  ),
  {
    name: 'custom header: Authorization is not looked at',
    profile: 'customToken',
    request: { path: '/protected', token: 'allowed' },
    expect: { status: 401, errorCode: 20001, headers: CHALLENGE_MISSING },
  },

  // ---------------------------------------------------------------- subdomain namespace
  okHeader(
    'host label = token namespace',
    { path: '/protected', token: 'allowed', headers: { host: 'sample-namespace.example.com' } },
    'subdomainNamespace',
  ),
  okHeader(
    'host label compared case-insensitively, port ignored',
    {
      path: '/protected',
      token: 'allowed',
      headers: { host: 'Sample-Namespace.example.com:8080' },
    },
    'subdomainNamespace',
  ),
  {
    name: 'host label of another namespace: 404 / 20030',
    profile: 'subdomainNamespace',
    request: {
      path: '/protected',
      token: 'allowed',
      headers: { host: 'other-namespace.example.com' },
    },
    expect: { status: 404, errorCode: 20030, headers: NO_CHALLENGE },
  },
  {
    name: 'host label merely starting with the namespace: 404 / 20030',
    profile: 'subdomainNamespace',
    request: {
      path: '/protected',
      token: 'allowed',
      headers: { host: 'sample-namespace-evil.example.com' },
    },
    expect: { status: 404, errorCode: 20030 },
  },
  okHeader(
    'host with fewer than three labels passes',
    { path: '/protected', token: 'allowed', headers: { host: 'localhost:3000' } },
    'subdomainNamespace',
  ),
  okHeader(
    'excluded namespace passes',
    { path: '/token-only', token: 'excludedNamespace', headers: { host: 'whatever.example.com' } },
    'subdomainNamespace',
  ),
  okCookie(
    'cookie: Referer on the namespace subdomain of a redirect host',
    cookie('allowed', {
      referer: 'https://sample-namespace.example.com/x',
      host: 'sample-namespace.example.com',
    }),
    'subdomainNamespace',
  ),
  badReferer(
    'cookie: Referer on another namespace subdomain',
    cookie('allowed', {
      referer: 'https://other-namespace.example.com/x',
      host: 'sample-namespace.example.com',
    }),
    'subdomainNamespace',
  ),

  // ---------------------------------------------------------------- CORS
  {
    name: 'CORS off: no CORS headers',
    profile: 'default',
    request: { path: '/open', headers: { origin: 'http://allowed.example' } },
    expect: {
      status: 200,
      errorCode: null,
      headers: { 'access-control-allow-origin': { absent: true } },
    },
  },
  {
    name: 'per-route CORS preflight without app-wide CORS (seed): 200, empty, no auth',
    profile: 'default',
    request: {
      method: 'OPTIONS',
      path: '/cors',
      headers: { origin: 'http://127.0.0.1', 'access-control-request-method': 'POST' },
    },
    expect: {
      status: 200,
      errorCode: null,
      emptyBody: true,
      headers: {
        'access-control-allow-headers': { equals: 'Device-Id, Device-Os, Device-Type' },
        'www-authenticate': { absent: true },
      },
    },
  },
  {
    name: 'app-wide CORS: a listed origin is reflected with credentials',
    profile: 'corsList',
    request: { path: '/open', headers: { origin: 'http://allowed.example' } },
    expect: {
      status: 200,
      errorCode: null,
      headers: {
        'access-control-allow-origin': { equals: 'http://allowed.example' },
        'access-control-allow-credentials': { equals: 'true' },
        'access-control-allow-headers': { equals: 'X-App-Header' },
        'access-control-allow-methods': { includes: 'GET' },
        vary: { includes: 'Origin' },
      },
    },
  },
  {
    name: 'app-wide CORS: an unlisted origin is not reflected',
    profile: 'corsList',
    request: { path: '/open', headers: { origin: 'http://evil.example' } },
    expect: {
      status: 200,
      errorCode: null,
      headers: { 'access-control-allow-origin': { absent: true }, vary: { includes: 'Origin' } },
    },
  },
  {
    name: 'app-wide CORS: error answers carry CORS headers too',
    profile: 'corsList',
    request: { path: '/protected', headers: { origin: 'http://also-allowed.example' } },
    expect: {
      status: 401,
      errorCode: 20001,
      headers: {
        'access-control-allow-origin': { equals: 'http://also-allowed.example' },
        ...CHALLENGE_MISSING,
      },
    },
  },
  {
    name: 'app-wide CORS: preflight of an unprotected route',
    profile: 'corsList',
    request: {
      method: 'OPTIONS',
      path: '/open',
      headers: { origin: 'http://allowed.example', 'access-control-request-method': 'POST' },
    },
    expect: {
      status: 200,
      errorCode: null,
      headers: {
        'access-control-allow-origin': { equals: 'http://allowed.example' },
        'access-control-allow-methods': { includes: 'POST' },
      },
    },
  },
  {
    name: 'per-route CORS overrides app-wide values; preflight needs no token',
    profile: 'corsList',
    request: {
      method: 'OPTIONS',
      path: '/cors',
      headers: {
        origin: 'http://allowed.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'device-id',
      },
    },
    expect: {
      status: 200,
      errorCode: null,
      emptyBody: true,
      headers: {
        'access-control-allow-origin': { equals: 'http://allowed.example' },
        'access-control-allow-headers': { equals: 'Device-Id, Device-Os, Device-Type' },
        'access-control-allow-methods': { includes: 'POST' },
        'access-control-allow-credentials': { equals: 'true' },
      },
    },
  },
  {
    name: 'per-route CORS: the route itself still requires a token',
    profile: 'corsList',
    request: { method: 'POST', path: '/cors', headers: { origin: 'http://allowed.example' } },
    expect: {
      status: 401,
      errorCode: 20001,
      headers: {
        'access-control-allow-origin': { equals: 'http://allowed.example' },
        'access-control-allow-headers': { equals: 'Device-Id, Device-Os, Device-Type' },
      },
    },
  },
  {
    name: 'per-route CORS: an unlisted origin gets no CORS headers',
    profile: 'corsList',
    request: {
      method: 'OPTIONS',
      path: '/cors',
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' },
    },
    expect: {
      status: 200,
      errorCode: null,
      headers: { 'access-control-allow-origin': { absent: true } },
    },
  },
  {
    name: 'CORS * with credentials (the default): the literal *, never the origin reflected',
    profile: 'corsAny',
    request: { path: '/open', headers: { origin: 'https://anyone.example' } },
    expect: {
      status: 200,
      errorCode: null,
      headers: { 'access-control-allow-origin': { equals: '*' } },
    },
  },
  {
    name: 'CORS * with credentials: a preflight gets the literal * too',
    profile: 'corsAny',
    request: {
      method: 'OPTIONS',
      path: '/open',
      headers: { origin: 'https://anyone.example', 'access-control-request-method': 'POST' },
    },
    expect: {
      status: 200,
      errorCode: null,
      headers: { 'access-control-allow-origin': { equals: '*' } },
    },
  },
  {
    name: 'corsReflectAnyOriginUnsafe: origin reflected with credentials, Vary: Origin',
    profile: 'corsAnyUnsafe',
    request: { path: '/open', headers: { origin: 'https://anyone.example' } },
    expect: {
      status: 200,
      errorCode: null,
      headers: {
        'access-control-allow-origin': { equals: 'https://anyone.example' },
        'access-control-allow-credentials': { equals: 'true' },
        vary: { includes: 'Origin' },
      },
    },
  },
  ...(['GET', 'OPTIONS'] as const).map((method): CaseRow => ({
    name: `per-route CORS narrower than app-wide *: an unlisted origin gets none (${method})`,
    profile: 'corsRouteRestricts',
    request: {
      method,
      path: '/cors-restricted',
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'GET' },
    },
    expect: {
      status: method === 'GET' ? 401 : 200,
      errorCode: method === 'GET' ? 20001 : null,
      headers: { 'access-control-allow-origin': { absent: true } },
    },
  })),
  {
    name: 'per-route CORS narrower than app-wide *: its listed origin is reflected',
    profile: 'corsRouteRestricts',
    request: {
      method: 'OPTIONS',
      path: '/cors-restricted',
      headers: { origin: 'http://allowed.example', 'access-control-request-method': 'GET' },
    },
    expect: {
      status: 200,
      errorCode: null,
      headers: { 'access-control-allow-origin': { equals: 'http://allowed.example' } },
    },
  },
  {
    name: 'CORS * without a request Origin: *',
    profile: 'corsAny',
    request: { path: '/open' },
    expect: {
      status: 200,
      errorCode: null,
      headers: { 'access-control-allow-origin': { equals: '*' } },
    },
  },

  // ---------------------------------------------------------------- readiness
  okHeader(
    'a request during a slow start waits, then passes',
    { path: '/protected', token: 'allowed' },
    'slowStart',
  ),
  {
    name: 'a start slower than readyTimeoutMs: 503 / 20000',
    profile: 'slowTimeout',
    request: { path: '/protected', token: 'allowed' },
    expect: { status: 503, errorCode: 20000, headers: NO_CHALLENGE },
  },
  {
    name: 'IAM down at start: 503 / 20000',
    profile: 'down',
    request: { path: '/protected', token: 'allowed' },
    expect: { status: 503, errorCode: 20000, headers: NO_CHALLENGE },
  },
  {
    name: 'IAM down at start: unprotected routes still answer',
    profile: 'down',
    request: { path: '/open' },
    expect: { status: 200, errorCode: null, body: { ok: true } },
  },
]
