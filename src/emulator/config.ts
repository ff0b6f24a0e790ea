/**
 * Configuration of the IAM emulator: the schema, its validation and the built-in demo config.
 *
 * A config is plain JSON (so the CLI can read it from a file). Permissions may be written in
 * either casing (`{ resource, action }` as the IAM's REST API returns them, or
 * `{ Resource, Action }` as JWTs carry them). Keys starting with `$` (e.g. `$comment`) are
 * ignored anywhere, so a config file can carry comments.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import type { ClaimPermission, JwtBan, NamespaceRole, WirePermission } from '../index.js'

/** Type of a namespace, as the basic service reports it. */
export type NamespaceType = 'Game' | 'Studio' | 'Publisher'

/** A permission in either casing (camelCase as in REST bodies, PascalCase as in JWTs). */
export type PermissionInput = WirePermission | ClaimPermission

/** A namespace the emulator knows. */
export interface NamespaceConfig {
  /** Namespace name (letters, digits, `-`, `_`). */
  namespace: string
  /** `Game`, `Studio` or `Publisher`. */
  type: NamespaceType
  /** For a `Game`: the studio it belongs to (must be a `Studio` namespace of the config). */
  studioNamespace?: string
  /**
   * For a `Game` or `Studio`: the publisher it belongs to (must be a `Publisher` namespace). For a
   * game under a studio it defaults to the studio's publisher.
   */
  publisherNamespace?: string
}

/** An OAuth client. */
export interface ClientConfig {
  /** Client ID. */
  clientId: string
  /** Secret of a confidential client; absent or empty for a public (browser) client. */
  clientSecret?: string
  /** Namespace the client lives in (must be declared in `namespaces`). */
  namespace: string
  /** Display name; defaults to the client ID. */
  clientName?: string
  /** Description; defaults to `""`. */
  description?: string
  /** Redirect URIs, as a list or as the IAM's comma-separated string. */
  redirectUri?: string | string[]
  /** Base URI of the resource server this client stands for (compared with a token's `aud`). */
  baseUri?: string
  /** Permissions the client holds (carried in its client tokens). Default none. */
  permissions?: PermissionInput[]
  /** OAuth scopes; the token `scope` is these joined with spaces. */
  scopes?: string[]
  /** Audiences reported by client information. Default none. */
  audiences?: string[]
}

/** A role (`GET /iam/v3/admin/roles/{roleId}`). */
export interface RoleConfig {
  /** Role ID (the IAM uses 32 lowercase hex digits; any non-empty string works here). */
  roleId: string
  /** Display name; defaults to the role ID. */
  roleName?: string
  /** Default false. */
  isWildcard?: boolean
  /** Default false. */
  adminRole?: boolean
  /** Permissions of the role; `{userId}` and `{namespace}` placeholders are kept as written. */
  permissions: PermissionInput[]
}

/** Permissions of a role as overridden in one namespace (role override endpoint). */
export interface RoleOverrideConfig {
  namespace: string
  roleId: string
  permissions: PermissionInput[]
}

/** A user that can log in with the password grant. Claim fields use their JWT wire names. */
export interface UserConfig {
  /** User ID (`sub`); default 32 random hex digits. */
  userId?: string
  /** Login name for the password grant. */
  username: string
  /** Password for the password grant. */
  password: string
  /** Namespace the user lives in; default the emulator's default game namespace. */
  namespace?: string
  /** `display_name` claim; default the username. */
  display_name?: string
  /** Direct permissions (`permissions` claim). */
  permissions?: PermissionInput[]
  /** Global role IDs (`roles` claim). */
  roles?: string[]
  /** Namespaced role IDs (`namespace_roles` claim). */
  namespace_roles?: NamespaceRole[]
  /** Bans (`bans` claim). */
  bans?: JwtBan[]
  /** Justice flags; default 1 (email verified). */
  jflgs?: number
  /** `is_comply` claim; default true. */
  is_comply?: boolean
  /** `country` claim; omitted when absent. */
  country?: string
  /** `subs` claim (subscriptions); omitted when absent. */
  subs?: string[]
}

/**
 * Everything the emulator is seeded with. Every field is optional; see {@link demoConfig} for the
 * built-in one.
 *
 * The emulator always has a default confidential client (`emulator.clientId`): the client named
 * by `defaultClientId`, otherwise the built-in {@link DEFAULT_CLIENT_ID} (added, with its
 * Publisher namespace {@link DEFAULT_PUBLISHER_NAMESPACE}, when the config does not declare it).
 */
export interface EmulatorConfig {
  /** `iss` claim of issued tokens; default the IAM base URL (`http://host:port/iam`). */
  issuer?: string
  /** Lifetime of client tokens, in seconds. Default 3600. */
  clientTokenExpiresIn?: number
  /** Lifetime of user tokens, in seconds. Default 3600. */
  userTokenExpiresIn?: number
  /** Client exposed as `emulator.clientId`; must be a confidential client of `clients`. */
  defaultClientId?: string
  /** Namespace exposed as `emulator.namespace`; default the first `Game` namespace. */
  defaultNamespace?: string
  namespaces?: NamespaceConfig[]
  clients?: ClientConfig[]
  roles?: RoleConfig[]
  roleOverrides?: RoleOverrideConfig[]
  users?: UserConfig[]
}

/** ID of the built-in default client. */
export const DEFAULT_CLIENT_ID = 'sample-client'
/** Secret of the built-in default client. */
export const DEFAULT_CLIENT_SECRET = 'sample-client-secret'
/** Publisher namespace of the built-in default client. */
export const DEFAULT_PUBLISHER_NAMESPACE = 'sample-publisher'
/** Game namespace used when a config declares none. */
export const DEFAULT_GAME_NAMESPACE = 'sample-namespace'
/** Default token lifetime, in seconds. */
export const DEFAULT_EXPIRES_IN = 3600
/** Scopes of a client that does not configure any (the IAM's usual default). */
export const DEFAULT_SCOPES = ['account', 'commerce', 'social', 'publishing', 'analytics']

/** Permissions of the built-in default client: what the SDK needs for roles, clients, contexts. */
const DEFAULT_CLIENT_PERMISSIONS: WirePermission[] = [
  { resource: 'ADMIN:ROLE', action: 2 },
  { resource: 'ADMIN:NAMESPACE:*:CLIENT', action: 2 },
  { resource: 'ADMIN:NAMESPACE:*:NAMESPACE', action: 2 },
]

function builtInClient(): ClientConfig {
  return {
    clientId: DEFAULT_CLIENT_ID,
    clientSecret: DEFAULT_CLIENT_SECRET,
    namespace: DEFAULT_PUBLISHER_NAMESPACE,
    clientName: 'Emulator default client',
    description: 'Confidential client of the service under test',
    permissions: DEFAULT_CLIENT_PERMISSIONS.map((p) => ({ ...p })),
  }
}

/**
 * The built-in demo config (a fresh copy on every call): a publisher `sample-publisher`, a game
 * `sample-namespace`, the default client, a public web client `sample-web-client` for a browser
 * app on `http://localhost:3000`, user `sample-user` / `sample-password` (ID `sample-userid`,
 * allowed `NAMESPACE:sample-namespace:USER:sample-userid` action 4, as in the Flask docs'
 * example) and user `other-user` / `other-password` (ID `other-userid`) who is not.
 *
 * @example
 * ```ts
 * const config = demoConfig()
 * config.roles = [{ roleId: 'admin', permissions: [{ resource: 'ADMIN', action: 15 }] }]
 * const iam = await startEmulator({ config })
 * ```
 */
export function demoConfig(): EmulatorConfig {
  return {
    clientTokenExpiresIn: DEFAULT_EXPIRES_IN,
    userTokenExpiresIn: DEFAULT_EXPIRES_IN,
    defaultClientId: DEFAULT_CLIENT_ID,
    defaultNamespace: DEFAULT_GAME_NAMESPACE,
    namespaces: [
      { namespace: DEFAULT_PUBLISHER_NAMESPACE, type: 'Publisher' },
      {
        namespace: DEFAULT_GAME_NAMESPACE,
        type: 'Game',
        publisherNamespace: DEFAULT_PUBLISHER_NAMESPACE,
      },
    ],
    clients: [
      builtInClient(),
      {
        clientId: 'sample-web-client',
        namespace: DEFAULT_GAME_NAMESPACE,
        clientName: 'Sample web app',
        description: 'Public client of the browser-facing example app',
        redirectUri: ['http://localhost:3000', 'http://127.0.0.1:3000'],
        baseUri: 'http://localhost:3000',
      },
    ],
    roles: [],
    roleOverrides: [],
    users: [
      {
        userId: 'sample-userid',
        username: 'sample-user',
        password: 'sample-password',
        namespace: DEFAULT_GAME_NAMESPACE,
        display_name: 'Sample User',
        permissions: [{ resource: 'NAMESPACE:sample-namespace:USER:sample-userid', action: 4 }],
      },
      {
        userId: 'other-userid',
        username: 'other-user',
        password: 'other-password',
        namespace: DEFAULT_GAME_NAMESPACE,
        display_name: 'Other User',
      },
    ],
  }
}

// ---------------------------------------------------------------------------------------------
// Validation

/** A namespace after validation, with the hierarchy resolved. */
export interface ResolvedNamespace {
  namespace: string
  type: NamespaceType
  studioNamespace: string
  publisherNamespace: string
}

/** A client after validation. */
export interface ResolvedClient {
  clientId: string
  /** `''` for a public client. */
  clientSecret: string
  namespace: string
  clientName: string
  description: string
  redirectUris: string[]
  baseUri: string
  permissions: WirePermission[]
  scopes: string[]
  audiences: string[]
}

/** A role after validation. */
export interface ResolvedRole {
  roleId: string
  roleName: string
  isWildcard: boolean
  adminRole: boolean
  permissions: WirePermission[]
}

/** A user after validation. */
export interface ResolvedUser {
  userId: string
  username: string
  password: string
  namespace: string
  display_name: string
  permissions: WirePermission[]
  roles: string[]
  namespace_roles: NamespaceRole[]
  bans: JwtBan[]
  jflgs: number
  is_comply: boolean
  country?: string
  subs?: string[]
}

/** A config after validation and defaulting: what the emulator's state is built from. */
export interface ResolvedConfig {
  issuer: string | undefined
  clientTokenExpiresIn: number
  userTokenExpiresIn: number
  defaultClientId: string
  defaultNamespace: string
  namespaces: ResolvedNamespace[]
  clients: ResolvedClient[]
  roles: ResolvedRole[]
  roleOverrides: { namespace: string; roleId: string; permissions: WirePermission[] }[]
  users: ResolvedUser[]
}

const NAMESPACE_TYPES: readonly NamespaceType[] = ['Game', 'Studio', 'Publisher']
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]*$/

/** Collects validation problems so one error can list them all. */
class Problems {
  readonly list: string[] = []
  add(path: string, message: string): void {
    this.list.push(`${path}: ${message}`)
  }
}

type Obj = Record<string, unknown>

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function checkKeys(p: Problems, path: string, value: Obj, allowed: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (key.startsWith('$')) continue
    if (!allowed.includes(key)) p.add(`${path}.${key}`, 'unknown field')
  }
}

function str(
  p: Problems,
  path: string,
  v: unknown,
  opts: { optional?: boolean; nonEmpty?: boolean } = {},
): string | undefined {
  if (v === undefined && opts.optional) return undefined
  if (typeof v !== 'string') {
    p.add(path, `must be a string, got ${describe(v)}`)
    return undefined
  }
  if (opts.nonEmpty && v === '') {
    p.add(path, 'must not be empty')
    return undefined
  }
  return v
}

function bool(p: Problems, path: string, v: unknown): boolean | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'boolean') p.add(path, `must be a boolean, got ${describe(v)}`)
  return typeof v === 'boolean' ? v : undefined
}

function int(p: Problems, path: string, v: unknown, min: number): number | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    p.add(path, `must be an integer >= ${min}, got ${describe(v)}`)
    return undefined
  }
  return v
}

function strArray(p: Problems, path: string, v: unknown): string[] | undefined {
  if (v === undefined) return undefined
  if (!Array.isArray(v)) {
    p.add(path, `must be an array of strings, got ${describe(v)}`)
    return undefined
  }
  const out: string[] = []
  v.forEach((item, i) => {
    const s = str(p, `${path}[${i}]`, item)
    if (s !== undefined) out.push(s)
  })
  return out
}

function array(p: Problems, path: string, v: unknown): unknown[] {
  if (v === undefined) return []
  if (!Array.isArray(v)) {
    p.add(path, `must be an array, got ${describe(v)}`)
    return []
  }
  return v
}

function describe(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'string') return JSON.stringify(v)
  if (typeof v === 'object') return 'an object'
  return `${typeof v} ${String(v)}`
}

function name(p: Problems, path: string, v: unknown): string | undefined {
  const s = str(p, path, v, { nonEmpty: true })
  if (s !== undefined && !NAME_RE.test(s)) {
    p.add(path, `${JSON.stringify(s)} must contain only letters, digits, "-" and "_"`)
    return undefined
  }
  return s
}

/** Validates one permission in either casing and returns it camelCased. */
function permission(p: Problems, path: string, v: unknown): WirePermission | undefined {
  if (!isObject(v)) {
    p.add(path, `must be an object { resource, action }, got ${describe(v)}`)
    return undefined
  }
  const pascal = 'Resource' in v || 'Action' in v
  const key = (k: string): string => (pascal ? k[0]!.toUpperCase() + k.slice(1) : k)
  checkKeys(p, path, v, ['resource', 'action', 'schedAction', 'schedCron', 'schedRange'].map(key))
  const resource = str(p, `${path}.${key('resource')}`, v[key('resource')], { nonEmpty: true })
  const action =
    v[key('action')] === undefined
      ? undefined
      : int(p, `${path}.${key('action')}`, v[key('action')], 0)
  if (v[key('action')] === undefined) p.add(`${path}.${key('action')}`, 'is required')
  const schedAction = int(p, `${path}.${key('schedAction')}`, v[key('schedAction')], 0)
  const schedCron = str(p, `${path}.${key('schedCron')}`, v[key('schedCron')], { optional: true })
  const schedRange = strArray(p, `${path}.${key('schedRange')}`, v[key('schedRange')])
  if (resource === undefined || action === undefined) return undefined
  const out: WirePermission = { resource, action }
  if (schedAction !== undefined) out.schedAction = schedAction
  if (schedCron !== undefined) out.schedCron = schedCron
  if (schedRange !== undefined) out.schedRange = schedRange
  return out
}

function permissions(p: Problems, path: string, v: unknown): WirePermission[] {
  const out: WirePermission[] = []
  array(p, path, v).forEach((item, i) => {
    const perm = permission(p, `${path}[${i}]`, item)
    if (perm) out.push(perm)
  })
  return out
}

function namespaceRoles(p: Problems, path: string, v: unknown): NamespaceRole[] {
  const out: NamespaceRole[] = []
  array(p, path, v).forEach((item, i) => {
    const at = `${path}[${i}]`
    if (!isObject(item))
      return p.add(at, `must be an object { roleId, namespace }, got ${describe(item)}`)
    checkKeys(p, at, item, ['roleId', 'namespace'])
    const roleId = str(p, `${at}.roleId`, item.roleId, { nonEmpty: true })
    const namespace = str(p, `${at}.namespace`, item.namespace, { nonEmpty: true })
    if (roleId !== undefined && namespace !== undefined) out.push({ roleId, namespace })
  })
  return out
}

function bans(p: Problems, path: string, v: unknown): JwtBan[] {
  const out: JwtBan[] = []
  array(p, path, v).forEach((item, i) => {
    const at = `${path}[${i}]`
    if (!isObject(item)) return p.add(at, `must be an object { Ban, ... }, got ${describe(item)}`)
    checkKeys(p, at, item, ['Ban', 'EndDate', 'Enabled', 'TargetedNamespace', 'DisabledDate'])
    const ban = str(p, `${at}.Ban`, item.Ban, { nonEmpty: true })
    const endDate = str(p, `${at}.EndDate`, item.EndDate, { optional: true })
    const enabled = bool(p, `${at}.Enabled`, item.Enabled)
    const targeted = str(p, `${at}.TargetedNamespace`, item.TargetedNamespace, { optional: true })
    const disabled = str(p, `${at}.DisabledDate`, item.DisabledDate, { optional: true })
    if (ban === undefined) return
    const b: JwtBan = { Ban: ban }
    if (endDate !== undefined) b.EndDate = endDate
    if (enabled !== undefined) b.Enabled = enabled
    if (targeted !== undefined) b.TargetedNamespace = targeted
    if (disabled !== undefined) b.DisabledDate = disabled
    out.push(b)
  })
  return out
}

function redirectUris(p: Problems, path: string, v: unknown): string[] {
  if (v === undefined || v === '') return []
  if (typeof v === 'string') return v.split(',')
  return strArray(p, path, v) ?? []
}

/**
 * Validates a client (also used by `createClient`). Returns undefined and records problems when
 * invalid.
 */
export function resolveClient(p: Problems, path: string, v: unknown): ResolvedClient | undefined {
  if (!isObject(v)) {
    p.add(path, `must be an object, got ${describe(v)}`)
    return undefined
  }
  checkKeys(p, path, v, [
    'clientId',
    'clientSecret',
    'namespace',
    'clientName',
    'description',
    'redirectUri',
    'baseUri',
    'permissions',
    'scopes',
    'audiences',
  ])
  const clientId = str(p, `${path}.clientId`, v.clientId, { nonEmpty: true })
  const clientSecret = str(p, `${path}.clientSecret`, v.clientSecret, { optional: true }) ?? ''
  const namespace = name(p, `${path}.namespace`, v.namespace)
  const clientName = str(p, `${path}.clientName`, v.clientName, { optional: true })
  const description = str(p, `${path}.description`, v.description, { optional: true }) ?? ''
  const uris = redirectUris(p, `${path}.redirectUri`, v.redirectUri)
  const baseUri = str(p, `${path}.baseUri`, v.baseUri, { optional: true }) ?? ''
  const perms = permissions(p, `${path}.permissions`, v.permissions)
  const scopes = strArray(p, `${path}.scopes`, v.scopes) ?? [...DEFAULT_SCOPES]
  const audiences = strArray(p, `${path}.audiences`, v.audiences) ?? []
  if (clientId === undefined || namespace === undefined) return undefined
  return {
    clientId,
    clientSecret,
    namespace,
    clientName: clientName ?? clientId,
    description,
    redirectUris: uris,
    baseUri,
    permissions: perms,
    scopes,
    audiences,
  }
}

/** Validates a role (also used by `createRole`, which passes a generated ID). */
export function resolveRole(p: Problems, path: string, v: unknown): ResolvedRole | undefined {
  if (!isObject(v)) {
    p.add(path, `must be an object, got ${describe(v)}`)
    return undefined
  }
  checkKeys(p, path, v, ['roleId', 'roleName', 'isWildcard', 'adminRole', 'permissions'])
  const roleId = str(p, `${path}.roleId`, v.roleId, { nonEmpty: true })
  const roleName = str(p, `${path}.roleName`, v.roleName, { optional: true })
  const isWildcard = bool(p, `${path}.isWildcard`, v.isWildcard) ?? false
  const adminRole = bool(p, `${path}.adminRole`, v.adminRole) ?? false
  if (v.permissions === undefined) p.add(`${path}.permissions`, 'is required')
  const perms = permissions(p, `${path}.permissions`, v.permissions)
  if (roleId === undefined) return undefined
  return { roleId, roleName: roleName ?? roleId, isWildcard, adminRole, permissions: perms }
}

/** Validates a user (also used by `createUser`). `namespace` falls back to `defaultNamespace`. */
export function resolveUser(
  p: Problems,
  path: string,
  v: unknown,
  defaultNamespace: string,
  newId: () => string,
): ResolvedUser | undefined {
  if (!isObject(v)) {
    p.add(path, `must be an object, got ${describe(v)}`)
    return undefined
  }
  checkKeys(p, path, v, [
    'userId',
    'username',
    'password',
    'namespace',
    'display_name',
    'permissions',
    'roles',
    'namespace_roles',
    'bans',
    'jflgs',
    'is_comply',
    'country',
    'subs',
  ])
  const userId = str(p, `${path}.userId`, v.userId, { optional: true, nonEmpty: true })
  const username = str(p, `${path}.username`, v.username, { nonEmpty: true })
  const password = str(p, `${path}.password`, v.password, { nonEmpty: true })
  const namespace =
    v.namespace === undefined ? defaultNamespace : name(p, `${path}.namespace`, v.namespace)
  const displayName = str(p, `${path}.display_name`, v.display_name, { optional: true })
  const perms = permissions(p, `${path}.permissions`, v.permissions)
  const roles = strArray(p, `${path}.roles`, v.roles) ?? []
  const nsRoles = namespaceRoles(p, `${path}.namespace_roles`, v.namespace_roles)
  const userBans = bans(p, `${path}.bans`, v.bans)
  const jflgs = int(p, `${path}.jflgs`, v.jflgs, 0) ?? 1
  const isComply = bool(p, `${path}.is_comply`, v.is_comply) ?? true
  const country = str(p, `${path}.country`, v.country, { optional: true })
  const subs = strArray(p, `${path}.subs`, v.subs)
  if (username === undefined || password === undefined || namespace === undefined) return undefined
  const user: ResolvedUser = {
    userId: userId ?? newId(),
    username,
    password,
    namespace,
    display_name: displayName ?? username,
    permissions: perms,
    roles,
    namespace_roles: nsRoles,
    bans: userBans,
    jflgs,
    is_comply: isComply,
  }
  if (country !== undefined) user.country = country
  if (subs !== undefined) user.subs = subs
  return user
}

/** Validates a namespace declaration (also used by `createNamespace`). */
export function resolveNamespace(
  p: Problems,
  path: string,
  v: unknown,
): (NamespaceConfig & { studioNamespace?: string; publisherNamespace?: string }) | undefined {
  if (!isObject(v)) {
    p.add(path, `must be an object { namespace, type }, got ${describe(v)}`)
    return undefined
  }
  checkKeys(p, path, v, ['namespace', 'type', 'studioNamespace', 'publisherNamespace'])
  const namespace = name(p, `${path}.namespace`, v.namespace)
  const type = v.type
  if (!NAMESPACE_TYPES.includes(type as NamespaceType)) {
    p.add(`${path}.type`, `must be one of ${NAMESPACE_TYPES.join(', ')}, got ${describe(type)}`)
  }
  const studio =
    v.studioNamespace === undefined || v.studioNamespace === ''
      ? undefined
      : name(p, `${path}.studioNamespace`, v.studioNamespace)
  const publisher =
    v.publisherNamespace === undefined || v.publisherNamespace === ''
      ? undefined
      : name(p, `${path}.publisherNamespace`, v.publisherNamespace)
  if (type === 'Publisher' && (studio !== undefined || publisher !== undefined)) {
    p.add(path, 'a Publisher namespace has no studioNamespace or publisherNamespace')
  }
  if (type === 'Studio' && studio !== undefined) {
    p.add(`${path}.studioNamespace`, 'a Studio namespace has no studioNamespace')
  }
  if (namespace === undefined || !NAMESPACE_TYPES.includes(type as NamespaceType)) return undefined
  const out: NamespaceConfig = { namespace, type: type as NamespaceType }
  if (studio !== undefined) out.studioNamespace = studio
  if (publisher !== undefined) out.publisherNamespace = publisher
  return out
}

/**
 * Resolves a namespace's studio and publisher against the namespaces known so far, recording a
 * problem when they do not exist or have the wrong type.
 */
export function resolveHierarchy(
  p: Problems,
  path: string,
  ns: NamespaceConfig,
  lookup: (name: string) => { type: NamespaceType; publisherNamespace: string } | undefined,
): ResolvedNamespace {
  let publisher = ns.publisherNamespace ?? ''
  const studio = ns.studioNamespace ?? ''
  if (studio !== '') {
    const s = lookup(studio)
    if (!s || s.type !== 'Studio') {
      p.add(
        `${path}.studioNamespace`,
        `${JSON.stringify(studio)} is not a declared Studio namespace`,
      )
    } else if (publisher === '') {
      publisher = s.publisherNamespace
    } else if (s.publisherNamespace !== '' && s.publisherNamespace !== publisher) {
      p.add(
        `${path}.publisherNamespace`,
        `${JSON.stringify(publisher)} differs from the publisher of studio ${JSON.stringify(studio)}`,
      )
    }
  }
  if (ns.publisherNamespace !== undefined && ns.publisherNamespace !== '') {
    const pub = lookup(ns.publisherNamespace)
    if (!pub || pub.type !== 'Publisher') {
      p.add(
        `${path}.publisherNamespace`,
        `${JSON.stringify(ns.publisherNamespace)} is not a declared Publisher namespace`,
      )
    }
  }
  // A publisher is its own publisher in the basic service's namespace context.
  if (ns.type === 'Publisher') publisher = ns.namespace
  return {
    namespace: ns.namespace,
    type: ns.type,
    studioNamespace: studio,
    publisherNamespace: publisher,
  }
}

/** Throws the collected problems as one `TypeError` naming every bad field. */
export function throwIfProblems(p: Problems, what: string): void {
  if (p.list.length === 0) return
  throw new TypeError(`Invalid ${what}:\n  - ${p.list.join('\n  - ')}`)
}

/** Creates an empty problem collector (for the emulator's programmatic API). */
export function problems(): Problems {
  return new Problems()
}

export type { Problems }

/**
 * Validates a config and applies the defaults (including the built-in default client).
 *
 * @param input - the config, typically parsed from JSON
 * @param newId - generator of IDs for users declared without `userId` (default 32 random hex)
 * @throws TypeError listing every problem as `config.<path>: <what is wrong>`.
 * @example
 * ```ts
 * validateConfig({ clients: [{ clientId: 'x', namespace: 'nope' }] })
 * // TypeError: Invalid emulator config:
 * //   - config.clients[0].namespace: "nope" is not declared in config.namespaces
 * ```
 */
export function validateConfig(
  input: unknown,
  newId: () => string = () => randomBytes(16).toString('hex'),
): ResolvedConfig {
  const p = new Problems()
  if (!isObject(input)) {
    p.add('config', `must be an object, got ${describe(input)}`)
    throwIfProblems(p, 'emulator config')
  }
  const c = input as Obj
  checkKeys(p, 'config', c, [
    'issuer',
    'clientTokenExpiresIn',
    'userTokenExpiresIn',
    'defaultClientId',
    'defaultNamespace',
    'namespaces',
    'clients',
    'roles',
    'roleOverrides',
    'users',
  ])
  const issuer = str(p, 'config.issuer', c.issuer, { optional: true, nonEmpty: true })
  const clientTokenExpiresIn =
    int(p, 'config.clientTokenExpiresIn', c.clientTokenExpiresIn, 1) ?? DEFAULT_EXPIRES_IN
  const userTokenExpiresIn =
    int(p, 'config.userTokenExpiresIn', c.userTokenExpiresIn, 1) ?? DEFAULT_EXPIRES_IN

  // Namespaces: declarations first, then the hierarchy (so order in the file does not matter).
  const declared = new Map<string, NamespaceConfig>()
  const declaredPaths = new Map<string, string>()
  array(p, 'config.namespaces', c.namespaces).forEach((item, i) => {
    const path = `config.namespaces[${i}]`
    const ns = resolveNamespace(p, path, item)
    if (!ns) return
    if (declared.has(ns.namespace)) {
      return p.add(`${path}.namespace`, `duplicate namespace ${JSON.stringify(ns.namespace)}`)
    }
    declared.set(ns.namespace, ns)
    declaredPaths.set(ns.namespace, path)
  })

  // Clients, then the default client.
  const clients = new Map<string, ResolvedClient>()
  array(p, 'config.clients', c.clients).forEach((item, i) => {
    const path = `config.clients[${i}]`
    const client = resolveClient(p, path, item)
    if (!client) return
    if (clients.has(client.clientId)) {
      return p.add(`${path}.clientId`, `duplicate client ${JSON.stringify(client.clientId)}`)
    }
    if (!declared.has(client.namespace)) {
      p.add(
        `${path}.namespace`,
        `${JSON.stringify(client.namespace)} is not declared in config.namespaces`,
      )
    }
    clients.set(client.clientId, client)
  })
  let defaultClientId = DEFAULT_CLIENT_ID
  if (c.defaultClientId !== undefined) {
    const id = str(p, 'config.defaultClientId', c.defaultClientId, { nonEmpty: true })
    const client = id === undefined ? undefined : clients.get(id)
    if (id !== undefined && !client) {
      p.add('config.defaultClientId', `${JSON.stringify(id)} is not a client of config.clients`)
    } else if (client && client.clientSecret === '') {
      p.add('config.defaultClientId', `${JSON.stringify(id)} is a public client (no clientSecret)`)
    }
    if (id !== undefined) defaultClientId = id
  } else if (!clients.has(DEFAULT_CLIENT_ID)) {
    const client = resolveClient(p, 'built-in default client', builtInClient())!
    clients.set(client.clientId, client)
    if (!declared.has(DEFAULT_PUBLISHER_NAMESPACE)) {
      declared.set(DEFAULT_PUBLISHER_NAMESPACE, {
        namespace: DEFAULT_PUBLISHER_NAMESPACE,
        type: 'Publisher',
      })
    } else if (declared.get(DEFAULT_PUBLISHER_NAMESPACE)?.type === 'Game') {
      p.add(
        declaredPaths.get(DEFAULT_PUBLISHER_NAMESPACE) ?? 'config.namespaces',
        `${DEFAULT_PUBLISHER_NAMESPACE} hosts the built-in default client and cannot be a Game namespace (or set config.defaultClientId)`,
      )
    }
  }

  // Default game namespace.
  let defaultNamespace: string
  if (c.defaultNamespace !== undefined) {
    defaultNamespace =
      name(p, 'config.defaultNamespace', c.defaultNamespace) ?? DEFAULT_GAME_NAMESPACE
    if (!declared.has(defaultNamespace)) {
      p.add(
        'config.defaultNamespace',
        `${JSON.stringify(defaultNamespace)} is not declared in config.namespaces`,
      )
    }
  } else {
    const game = [...declared.values()].find((ns) => ns.type === 'Game')
    defaultNamespace = game?.namespace ?? DEFAULT_GAME_NAMESPACE
    if (!game) {
      const publisher = declared.get(DEFAULT_PUBLISHER_NAMESPACE)
      declared.set(DEFAULT_GAME_NAMESPACE, {
        namespace: DEFAULT_GAME_NAMESPACE,
        type: 'Game',
        ...(publisher?.type === 'Publisher'
          ? { publisherNamespace: DEFAULT_PUBLISHER_NAMESPACE }
          : {}),
      })
    }
  }

  const namespaces: ResolvedNamespace[] = []
  const lookup = (n: string): { type: NamespaceType; publisherNamespace: string } | undefined => {
    const ns = declared.get(n)
    return ns ? { type: ns.type, publisherNamespace: ns.publisherNamespace ?? '' } : undefined
  }
  for (const ns of declared.values()) {
    namespaces.push(resolveHierarchy(p, declaredPaths.get(ns.namespace) ?? 'config', ns, lookup))
  }

  // Roles and overrides.
  const roles = new Map<string, ResolvedRole>()
  array(p, 'config.roles', c.roles).forEach((item, i) => {
    const path = `config.roles[${i}]`
    if (isObject(item) && item.roleId === undefined) p.add(`${path}.roleId`, 'is required')
    const role = resolveRole(p, path, item)
    if (!role) return
    if (roles.has(role.roleId)) {
      return p.add(`${path}.roleId`, `duplicate role ${JSON.stringify(role.roleId)}`)
    }
    roles.set(role.roleId, role)
  })
  const roleOverrides: ResolvedConfig['roleOverrides'] = []
  array(p, 'config.roleOverrides', c.roleOverrides).forEach((item, i) => {
    const path = `config.roleOverrides[${i}]`
    if (!isObject(item)) return p.add(path, `must be an object, got ${describe(item)}`)
    checkKeys(p, path, item, ['namespace', 'roleId', 'permissions'])
    const namespace = str(p, `${path}.namespace`, item.namespace, { nonEmpty: true })
    const roleId = str(p, `${path}.roleId`, item.roleId, { nonEmpty: true })
    if (item.permissions === undefined) p.add(`${path}.permissions`, 'is required')
    const perms = permissions(p, `${path}.permissions`, item.permissions)
    if (roleId !== undefined && !roles.has(roleId)) {
      p.add(`${path}.roleId`, `${JSON.stringify(roleId)} is not a role of config.roles`)
    }
    if (namespace !== undefined && roleId !== undefined) {
      roleOverrides.push({ namespace, roleId, permissions: perms })
    }
  })

  // Users.
  const users: ResolvedUser[] = []
  const userIds = new Set<string>()
  const usernames = new Set<string>()
  array(p, 'config.users', c.users).forEach((item, i) => {
    const path = `config.users[${i}]`
    const user = resolveUser(p, path, item, defaultNamespace, newId)
    if (!user) return
    if (userIds.has(user.userId)) {
      return p.add(`${path}.userId`, `duplicate user ${JSON.stringify(user.userId)}`)
    }
    if (usernames.has(user.username)) {
      return p.add(`${path}.username`, `duplicate username ${JSON.stringify(user.username)}`)
    }
    if (!declared.has(user.namespace)) {
      p.add(
        `${path}.namespace`,
        `${JSON.stringify(user.namespace)} is not declared in config.namespaces`,
      )
    }
    userIds.add(user.userId)
    usernames.add(user.username)
    users.push(user)
  })

  throwIfProblems(p, 'emulator config')
  return {
    issuer,
    clientTokenExpiresIn,
    userTokenExpiresIn,
    defaultClientId,
    defaultNamespace,
    namespaces,
    clients: [...clients.values()],
    roles: [...roles.values()],
    roleOverrides,
    users,
  }
}
