/**
 * The request pipeline of a protected route (docs/iam-wire-protocol.md#53-request-pipeline): extract the token,
 * validate it, check CSRF for cookie tokens, check the subdomain namespace, check the permission.
 */
import { nearestName } from '../config-check.js'
import { IamError, isIamError } from '../errors.js'
import { normalizeRequiredPermission } from '../permission.js'
import type { PermissionDecision } from '../permission.js'
import type { ClientInformation, JwtClaims, RequiredPermission } from '../types.js'
import { checkCsrf, subdomainMatchesNamespace } from './csrf.js'
import type { ResolvedHttpProtectionOptions } from './options.js'
import type { HttpRequest, IamRequestContext } from './request.js'
import { extractToken } from './token.js'

/** What the pipeline needs from the core client (so tests can pass a small fake). */
export interface ProtectionClient {
  validateAndParseClaims(token: string): Promise<JwtClaims>
  validatePermission(
    claims: JwtClaims,
    required: RequiredPermission,
    resources?: Readonly<Record<string, string>>,
  ): Promise<boolean>
  getClientInformation(namespace: string, clientId: string): Promise<ClientInformation>
  /** Optional, for the synchronous fast path: the claims of a token validated before. */
  validateCachedClaims?(token: string): JwtClaims | undefined
  /**
   * Optional, for the synchronous fast path (preferred over `validateCachedClaims`): the claims
   * of a token validated before or now, `undefined` when validating it needs I/O.
   */
  validateClaimsSync?(token: string): JwtClaims | undefined
  /** Optional, for the synchronous fast path: whether the token's own permissions allow. */
  grantedByTokenPermissions?(
    claims: JwtClaims,
    required: { resource: string; action: number },
  ): boolean
  /** Optional: why a permission was refused, for debug logs. */
  explainPermission?(
    claims: JwtClaims,
    required: RequiredPermission,
    resources?: Readonly<Record<string, string>>,
  ): Promise<PermissionDecision>
}

/** Options of one {@link authorizeRequest} call. */
export interface AuthorizeOptions {
  /** Attach the explanation of a permission refusal to the error (`details.explanation`). */
  readonly explainRefusals?: boolean
}

/** Placeholder values: a fixed map, or a function of the framework's request. */
export type PermissionResources<Req> =
  | Readonly<Record<string, string>>
  | ((req: Req) => Readonly<Record<string, unknown>> | Promise<Readonly<Record<string, unknown>>>)

/** An extra check of a route: `false` refuses with 403 `ERR_IAM_CHECK_REFUSED`. */
export type RouteCheck<Req> = (claims: JwtClaims, request: Req) => boolean | Promise<boolean>

/** Per-route options of `permissionRequired` (every adapter). */
export interface RouteProtectionOptions<Req = unknown> {
  /** Overrides `csrfProtection` for this route. */
  csrfProtect?: boolean
  /**
   * No token: the handler runs unauthenticated (the context is absent). A token that is there
   * must still be valid (401 otherwise) and pass every other check. Default `false`.
   */
  optional?: boolean
  /**
   * Scopes the token's `scope` claim must all contain; otherwise 403
   * `ERR_IAM_INSUFFICIENT_SCOPE` with `scope="…"` in `WWW-Authenticate`.
   */
  scopes?: readonly string[]
  /** Runs after the other checks; `false` is 403 `ERR_IAM_CHECK_REFUSED`. */
  check?: RouteCheck<Req>
}

/** A validated route protection, built once per route by {@link createRouteGuard}. */
export interface RouteGuard<Req> {
  /** The required permission, `undefined` when only a valid token is required. */
  readonly permission: { readonly resource: string; readonly action: number } | undefined
  readonly resources: PermissionResources<Req> | undefined
  readonly csrfProtect: boolean | undefined
  readonly optional: boolean
  readonly scopes: readonly string[] | undefined
  readonly check: RouteCheck<Req> | undefined
  /**
   * The required permission with its placeholders already filled, when static values fill them
   * all (computed once, at route definition); `undefined` when the request supplies some.
   */
  readonly staticRequired:
    | {
        readonly resource: string
        readonly action: number
        readonly values: Readonly<Record<string, string>>
      }
    | undefined
}

/** What {@link authorizeRequestSync} answers when the decision has to wait (I/O, an async check). */
export const NEEDS_ASYNC: unique symbol = Symbol('iam-node-sdk: needs the async path')

const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/

const PLACEHOLDER_RE = /\{[^{}]*\}/g

const ROUTE_OPTION_NAMES: readonly string[] = ['csrfProtect', 'optional', 'scopes', 'check']

function nearestSuggestion(key: string): string {
  const near = nearestName(key, ROUTE_OPTION_NAMES)
  return near === undefined ? '' : `; did you mean "${near}"?`
}

/**
 * Validates the arguments of `permissionRequired(permission, resources, options)` once, at
 * route definition: a `TypeError` names the bad argument.
 *
 * @example
 * ```ts
 * const guard = createRouteGuard(
 *   { Action: 4, Resource: 'NAMESPACE:{namespace}:USER:{userId}' },
 *   { '{namespace}': 'sample-namespace' },
 *   { csrfProtect: true },
 * )
 * ```
 */
export function createRouteGuard<Req>(
  permission?: RequiredPermission | null,
  resources?: PermissionResources<Req> | null,
  options?: RouteProtectionOptions<Req> | null,
): RouteGuard<Req> {
  let normalized: { resource: string; action: number } | undefined
  if (permission !== undefined && permission !== null) {
    try {
      normalized = normalizeRequiredPermission(permission)
    } catch (error) {
      throw new TypeError(
        `permissionRequired(permission): ${(error as Error).message}; expected { Resource, Action } or { resource, action }`,
      )
    }
    if (normalized.resource === '') {
      throw new TypeError('permissionRequired(permission): resource must not be empty')
    }
  }
  if (resources !== undefined && resources !== null && typeof resources !== 'function') {
    if (typeof resources !== 'object' || Array.isArray(resources)) {
      throw new TypeError('permissionRequired(resources) must be an object or a function')
    }
    for (const [key, value] of Object.entries(resources)) {
      if (typeof value !== 'string') {
        throw new TypeError(
          `permissionRequired(resources): value of ${JSON.stringify(key)} must be a string`,
        )
      }
    }
    resources = Object.freeze({ ...resources })
  }
  if (options !== undefined && options !== null) {
    if (typeof options !== 'object')
      throw new TypeError('permissionRequired(options) must be an object')
    for (const key of Object.keys(options)) {
      if (
        !ROUTE_OPTION_NAMES.includes(key) &&
        (options as Record<string, unknown>)[key] !== undefined
      ) {
        throw new TypeError(
          `permissionRequired option "${key}" is unknown${nearestSuggestion(key)}`,
        )
      }
    }
    for (const name of ['csrfProtect', 'optional'] as const) {
      if (options[name] !== undefined && typeof options[name] !== 'boolean') {
        throw new TypeError(`permissionRequired option ${name} must be a boolean`)
      }
    }
    if (
      options.scopes !== undefined &&
      (!Array.isArray(options.scopes) ||
        !options.scopes.every((x) => typeof x === 'string' && SCOPE_TOKEN.test(x)))
    ) {
      throw new TypeError(
        'permissionRequired option scopes must be an array of scope names (no spaces or quotes)',
      )
    }
    if (options.check !== undefined && typeof options.check !== 'function') {
      throw new TypeError('permissionRequired option check must be a function')
    }
  }
  const permissionFrozen = normalized === undefined ? undefined : Object.freeze(normalized)
  return Object.freeze({
    permission: permissionFrozen,
    resources: resources ?? undefined,
    csrfProtect: options?.csrfProtect,
    optional: options?.optional ?? false,
    scopes: options?.scopes === undefined ? undefined : Object.freeze([...options.scopes]),
    check: options?.check,
    staticRequired: staticRequired(permissionFrozen, resources ?? undefined),
  })
}

/** The permission with its static values filled in, when they leave no placeholder. */
function staticRequired<Req>(
  permission: { readonly resource: string; readonly action: number } | undefined,
  resources: PermissionResources<Req> | undefined,
): RouteGuard<Req>['staticRequired'] {
  if (permission === undefined || typeof resources === 'function') return undefined
  const values = Object.assign(Object.create(null) as Record<string, string>, resources)
  let unfilled = false
  const resource = permission.resource.replace(PLACEHOLDER_RE, (placeholder) => {
    const known = values[placeholder]
    if (known === undefined) unfilled = true
    return known ?? placeholder
  })
  return unfilled
    ? undefined
    : Object.freeze({ resource, action: permission.action, values: Object.freeze(values) })
}

function forbidden(details?: Readonly<Record<string, unknown>>): IamError {
  return new IamError(
    'ERR_IAM_INSUFFICIENT_PERMISSIONS',
    "Access doesn't have required role permission(s).",
    { details },
  )
}

/**
 * Values that come from the request (route parameters, a resources function) must not change
 * the shape of the resource (no section separator, no placeholder syntax), nor walk IAM URLs
 * they may end up in (`.`, `..`): refused before anything asks the IAM.
 */
function requestValue(value: unknown): string {
  if (
    typeof value !== 'string' ||
    value === '' ||
    value === '.' ||
    value === '..' ||
    /[:{}]/.test(value)
  ) {
    throw forbidden()
  }
  return value
}

/**
 * Builds the required resource and the placeholder map: static values first, then a resources
 * function's values, then route parameters for placeholders still without a value. Substitution
 * is one pass, so a value is never scanned for placeholders again.
 */
function resolvePermission(
  permission: { readonly resource: string; readonly action: number },
  values: Record<string, string>,
  request: HttpRequest,
): { resource: string; action: number; values: Record<string, string> } {
  const resource = permission.resource.replace(PLACEHOLDER_RE, (placeholder) => {
    const known = values[placeholder]
    if (known !== undefined) return known
    const param = request.params[placeholder.slice(1, -1)]
    if (param === undefined) return placeholder
    values[placeholder] = requestValue(param)
    return values[placeholder]
  })
  return { resource, action: permission.action, values }
}

/** The values of a resources function, each checked like a route parameter. */
async function dynamicValues<Req>(
  resources: (
    req: Req,
  ) => Readonly<Record<string, unknown>> | Promise<Readonly<Record<string, unknown>>>,
  frameworkRequest: Req,
): Promise<Record<string, string>> {
  const values: Record<string, string> = Object.create(null)
  const dynamic = await resources(frameworkRequest)
  if (dynamic !== null && typeof dynamic === 'object') {
    for (const [key, value] of Object.entries(dynamic)) {
      if (value !== undefined) values[key] = requestValue(value)
    }
  }
  return values
}

/** CSRF check of a cookie-token request; throws `ERR_IAM_INVALID_REFERER` (401 / 20023). */
async function verifyCsrf(
  client: ProtectionClient,
  options: ResolvedHttpProtectionOptions,
  request: HttpRequest,
  claims: JwtClaims,
): Promise<void> {
  const invalid = (rule: string, cause?: unknown) =>
    new IamError('ERR_IAM_INVALID_REFERER', 'Invalid referrer header', {
      cause,
      details: { rule },
    })
  const clientId = claims.client_id
  if (typeof clientId !== 'string' || clientId === '') throw invalid('token-without-client-id')
  let info: ClientInformation
  try {
    info = await client.getClientInformation(claims.namespace, clientId)
  } catch (error) {
    // The IAM being unreachable is not the browser's fault: answer 503, not "invalid referer".
    if (isIamError(error) && error.status === 503) throw error
    throw invalid('client-information-unavailable', error)
  }
  // Only a string says which redirect URIs are registered ('' for none): anything else from a
  // client source fails closed rather than reading as "none registered".
  if (typeof info?.redirectUri !== 'string') throw invalid('client-information-malformed')
  const failure = checkCsrf(
    {
      referer: request.referer,
      origin: request.origin,
      redirectUri: info.redirectUri,
      namespace: claims.namespace,
    },
    options,
  )
  if (failure !== undefined) throw invalid(failure)
}

/** The subdomain-namespace rule and the route's scopes: both decided from what is at hand. */
function checkSubdomainAndScopes<Req>(
  options: ResolvedHttpProtectionOptions,
  guard: RouteGuard<Req>,
  request: HttpRequest,
  claims: JwtClaims,
): void {
  if (options.subdomainValidationEnable) {
    const host = request.host
    if (
      host !== undefined &&
      !subdomainMatchesNamespace(
        host,
        claims.namespace,
        options.subdomainValidationExcludedNamespaces,
      )
    ) {
      throw new IamError('ERR_IAM_SUBDOMAIN_MISMATCH', 'Subdomain mismatch')
    }
  }
  if (guard.scopes !== undefined) {
    const granted = typeof claims.scope === 'string' ? claims.scope.split(' ') : []
    const missing = guard.scopes.filter((scope) => !granted.includes(scope))
    if (missing.length > 0) {
      throw new IamError(
        'ERR_IAM_INSUFFICIENT_SCOPE',
        `token lacks scope(s) ${missing.join(' ')}`,
        {
          details: { scopes: guard.scopes, missing },
        },
      )
    }
  }
}

/**
 * The pipeline without waiting, when everything it needs is at hand: a token validated before, no
 * CSRF check (which needs the client's redirect URIs), static or route-parameter placeholders,
 * and a permission the token's own permissions grant. Answers what {@link authorizeRequest}
 * would (it runs the same checks), or {@link NEEDS_ASYNC} for it to decide; throws the same
 * refusals. This spares a protected request every promise and microtask of the async path.
 */
export function authorizeRequestSync<Req>(
  client: ProtectionClient,
  options: ResolvedHttpProtectionOptions,
  guard: RouteGuard<Req>,
  request: HttpRequest,
): IamRequestContext | undefined | typeof NEEDS_ASYNC {
  if (
    (client.validateClaimsSync === undefined && client.validateCachedClaims === undefined) ||
    guard.check !== undefined ||
    typeof guard.resources === 'function'
  ) {
    return NEEDS_ASYNC
  }
  const extracted = tokenOrAnonymous(options, guard, request)
  if (extracted === undefined) return undefined
  const { token, location } = extracted
  // Decided before validating: the CSRF check needs I/O, and the async path would validate again.
  if (location === 'cookie' && (guard.csrfProtect ?? options.csrfProtection)) return NEEDS_ASYNC
  let claims: JwtClaims | undefined
  try {
    claims =
      client.validateClaimsSync !== undefined
        ? client.validateClaimsSync(token)
        : client.validateCachedClaims?.(token)
  } catch (error) {
    throw asTokenRefusal(error)
  }
  if (claims === undefined) return NEEDS_ASYNC
  checkSubdomainAndScopes(options, guard, request, claims)
  if (guard.permission !== undefined) {
    const required =
      guard.staticRequired ??
      resolvePermission(
        guard.permission,
        Object.assign(Object.create(null) as Record<string, string>, guard.resources),
        request,
      )
    if (client.grantedByTokenPermissions?.(claims, required) !== true) {
      // A role's permissions may need I/O: the async path decides, from these claims.
      validatedEarlier.set(request, { token, location, claims })
      return NEEDS_ASYNC
    }
  }
  return Object.freeze({ claims, token, tokenLocation: location })
}

/**
 * Tokens {@link authorizeRequestSync} validated for a request it then left to
 * {@link authorizeRequest}: validating a first-seen token is its signature check, the most
 * expensive step of a request, which is not done twice.
 */
const validatedEarlier = new WeakMap<
  HttpRequest,
  { token: string; location: IamRequestContext['tokenLocation']; claims: JwtClaims }
>()

/** The request's token, or `undefined` on an optional route sent none; throws other refusals. */
function tokenOrAnonymous<Req>(
  options: ResolvedHttpProtectionOptions,
  guard: RouteGuard<Req>,
  request: HttpRequest,
): ReturnType<typeof extractToken> | undefined {
  try {
    return extractToken(request, options)
  } catch (error) {
    // An optional route runs unauthenticated when there is no token at all.
    if (guard.optional && isIamError(error, 'ERR_IAM_TOKEN_MISSING')) return undefined
    throw error
  }
}

/** What the validator threw, as the refusal to answer: never a 500 for a token's content. */
function asTokenRefusal(error: unknown): IamError {
  if (isIamError(error)) return error
  // Whatever a token makes the validator throw, it is the token's fault: 401, never 500.
  return new IamError('ERR_IAM_TOKEN_MALFORMED', 'unable to validate access token', {
    cause: error,
  })
}

/**
 * Runs the whole pipeline for one request and returns the validated context (`undefined` for an
 * optional route without a token), or throws an {@link IamError} (token: 401 / 20001, CSRF:
 * 401 / 20023, subdomain: 404 / 20030, scopes, permission, check: 403 / 20013, malformed
 * permission: 500 / 20000, IAM unreachable: 503).
 *
 * @example
 * ```ts
 * const context = await authorizeRequest(client, options, guard, request, req)
 * req.iam = context
 * ```
 */
export async function authorizeRequest<Req>(
  client: ProtectionClient,
  options: ResolvedHttpProtectionOptions,
  guard: RouteGuard<Req>,
  request: HttpRequest,
  frameworkRequest: Req,
  authorizeOptions?: AuthorizeOptions,
): Promise<IamRequestContext | undefined> {
  let token: string
  let location: IamRequestContext['tokenLocation']
  let claims: JwtClaims
  const earlier = validatedEarlier.get(request)
  if (earlier !== undefined) {
    validatedEarlier.delete(request)
    ;({ token, location, claims } = earlier)
  } else {
    const extracted = tokenOrAnonymous(options, guard, request)
    if (extracted === undefined) return undefined
    ;({ token, location } = extracted)
    try {
      claims = await client.validateAndParseClaims(token)
    } catch (error) {
      throw asTokenRefusal(error)
    }
  }
  if (location === 'cookie' && (guard.csrfProtect ?? options.csrfProtection)) {
    await verifyCsrf(client, options, request, claims)
  }
  checkSubdomainAndScopes(options, guard, request, claims)
  if (guard.permission !== undefined) {
    const { resource, action, values } =
      guard.staticRequired ??
      resolvePermission(
        guard.permission,
        typeof guard.resources === 'function'
          ? await dynamicValues(guard.resources, frameworkRequest)
          : Object.assign(Object.create(null) as Record<string, string>, guard.resources),
        request,
      )
    const allowed = await client.validatePermission(claims, { resource, action }, values)
    if (!allowed) {
      const required = { resource, action }
      const explanation =
        authorizeOptions?.explainRefusals === true && client.explainPermission !== undefined
          ? await client.explainPermission(claims, required, values).catch(() => undefined)
          : undefined
      throw forbidden({ required, ...(explanation === undefined ? {} : { explanation }) })
    }
  }
  if (guard.check !== undefined && (await guard.check(claims, frameworkRequest)) !== true) {
    throw new IamError('ERR_IAM_CHECK_REFUSED', "the route's check refused the token")
  }
  return Object.freeze({ claims, token, tokenLocation: location })
}
