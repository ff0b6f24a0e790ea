/**
 * `startEmulator`: the programmatic face of the IAM emulator.
 *
 * @module
 */
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import type { NamespaceContext } from '../index.js'
import {
  demoConfig,
  problems,
  resolveClient,
  resolveHierarchy,
  resolveNamespace,
  resolveRole,
  resolveUser,
  throwIfProblems,
  validateConfig,
  type PermissionInput,
} from './config.js'
import { adminRoutes } from './admin-routes.js'
import { FaultTable, type EmulatorFault } from './faults.js'
import { createHttpServer } from './http.js'
import { EMULATOR_ENDPOINTS, iamRoutes, type EmulatorEndpoint } from './iam-routes.js'
import { EmulatorState, randomHex, rfc3339, type SignTokenOptions } from './state.js'
import type {
  CreateClientInput,
  CreateNamespaceInput,
  CreateRoleInput,
  CreateUserInput,
  Emulator,
  EmulatorInfo,
  StartEmulatorOptions,
  UserTokenClaims,
} from './types.js'

class RunningEmulator implements Emulator {
  url = ''
  baseUrl = ''
  basicBaseUrl = ''
  port = 0
  readonly clientId: string
  readonly clientSecret: string
  readonly namespace: string
  readonly publisherNamespace: string
  private server: Server | undefined
  private abortWaits: () => void = () => {}
  private closing: Promise<void> | undefined

  constructor(
    private readonly state: EmulatorState,
    private readonly faultTable: FaultTable<EmulatorEndpoint>,
  ) {
    const client = state.clients.get(state.defaultClientId)!
    this.clientId = client.clientId
    this.clientSecret = client.clientSecret
    this.namespace = state.defaultNamespace
    this.publisherNamespace = client.namespace
  }

  attach(server: Server, abortWaits: () => void, origin: string, port: number): void {
    this.server = server
    this.abortWaits = abortWaits
    this.url = origin
    this.baseUrl = `${origin}/iam`
    this.basicBaseUrl = `${origin}/basic`
    this.port = port
  }

  get issuer(): string {
    return this.state.issuer
  }

  get currentKid(): string {
    return this.state.currentKid
  }

  async issueUserToken(claims: UserTokenClaims = {}): Promise<string> {
    if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) {
      throw new TypeError('issueUserToken: claims must be an object')
    }
    if (claims.expiresIn !== undefined && !Number.isFinite(claims.expiresIn)) {
      throw new TypeError('issueUserToken: expiresIn must be a number of seconds')
    }
    return this.state.sign(this.state.customUserClaims(claims))
  }

  async issueClientToken(clientId: string = this.clientId): Promise<string> {
    const client = this.state.clients.get(clientId)
    if (!client) throw new TypeError(`issueClientToken: unknown client ${JSON.stringify(clientId)}`)
    return this.state.sign(this.state.clientClaims(client))
  }

  async signToken(payload: Record<string, unknown>, options?: SignTokenOptions): Promise<string> {
    return this.state.sign(payload, options)
  }

  async createRole(role: CreateRoleInput): Promise<string> {
    const p = problems()
    const input: Partial<CreateRoleInput> = typeof role === 'object' && role !== null ? role : {}
    const resolved = resolveRole(p, 'role', { ...input, roleId: input.roleId ?? randomHex() })
    throwIfProblems(p, 'createRole input')
    this.state.roles.set(resolved!.roleId, resolved!)
    return resolved!.roleId
  }

  async setRoleOverride(
    namespace: string,
    roleId: string,
    permissions: PermissionInput[] | null,
  ): Promise<void> {
    const p = problems()
    if (typeof namespace !== 'string' || namespace === '')
      p.add('namespace', 'must be a non-empty string')
    if (typeof roleId !== 'string' || roleId === '') p.add('roleId', 'must be a non-empty string')
    let perms = null
    if (permissions !== null) {
      // Reuse the role validator for the permission list.
      perms = resolveRole(p, 'override', { roleId: 'x', permissions })?.permissions ?? []
    }
    throwIfProblems(p, 'setRoleOverride input')
    this.state.setRoleOverride(namespace, roleId, perms)
  }

  async createClient(
    client: CreateClientInput,
  ): Promise<{ clientId: string; clientSecret: string }> {
    const p = problems()
    const input = typeof client === 'object' && client !== null ? client : ({} as CreateClientInput)
    const resolved = resolveClient(p, 'client', {
      ...input,
      clientId: input.clientId ?? randomHex(),
      clientSecret: input.clientSecret ?? randomHex(),
    })
    throwIfProblems(p, 'createClient input')
    this.state.putClient(resolved!)
    return { clientId: resolved!.clientId, clientSecret: resolved!.clientSecret }
  }

  async createNamespace(namespace: CreateNamespaceInput): Promise<NamespaceContext> {
    const p = problems()
    const ns = resolveNamespace(p, 'namespace', namespace)
    throwIfProblems(p, 'createNamespace input')
    const resolved = resolveHierarchy(p, 'namespace', ns!, (name) =>
      this.state.namespaces.get(name),
    )
    throwIfProblems(p, 'createNamespace input')
    this.state.namespaces.set(resolved.namespace, resolved)
    return this.state.namespaceContext(resolved.namespace)!
  }

  async createUser(user: CreateUserInput): Promise<string> {
    const p = problems()
    const resolved = resolveUser(p, 'user', user, this.namespace, randomHex)
    throwIfProblems(p, 'createUser input')
    if (!this.state.namespaces.has(resolved!.namespace)) {
      await this.createNamespace({ namespace: resolved!.namespace, type: 'Game' })
    }
    this.state.putUser(resolved!)
    return resolved!.userId
  }

  async revokeToken(token: string): Promise<void> {
    if (typeof token !== 'string' || token === '') {
      throw new TypeError('revokeToken: token must be a non-empty string')
    }
    this.state.revokeToken(token)
  }

  async revokeUser(userId: string): Promise<string> {
    if (typeof userId !== 'string' || userId === '') {
      throw new TypeError('revokeUser: userId must be a non-empty string')
    }
    return rfc3339(this.state.revokeUser(userId))
  }

  async rotateKeys(options: { retireOld?: boolean } = {}): Promise<string> {
    return this.state.rotateKeys(options.retireOld === true)
  }

  setFault(endpoint: EmulatorEndpoint, fault: EmulatorFault | null): void {
    this.faultTable.set(endpoint, fault)
  }

  faults(): Partial<Record<EmulatorEndpoint, EmulatorFault>> {
    return this.faultTable.list()
  }

  requestCount(endpoint: EmulatorEndpoint): number {
    return this.faultTable.count(endpoint)
  }

  resetRequestCounts(): void {
    this.faultTable.resetCounts()
  }

  unmatchedRequests(): { method: string; path: string }[] {
    return this.faultTable.unmatchedRequests()
  }

  streamedBytes(endpoint: EmulatorEndpoint): number {
    return this.faultTable.streamedBytes(endpoint)
  }

  streamStopped(endpoint: EmulatorEndpoint): Promise<number> {
    return this.faultTable.streamStopped(endpoint)
  }

  info(): EmulatorInfo {
    const s = this.state
    return {
      url: this.url,
      baseUrl: this.baseUrl,
      basicBaseUrl: this.basicBaseUrl,
      issuer: s.issuer,
      clientId: this.clientId,
      clientSecret: this.clientSecret,
      namespace: this.namespace,
      publisherNamespace: this.publisherNamespace,
      currentKid: s.currentKid,
      namespaces: [...s.namespaces.keys()].map((n) => s.namespaceContext(n)!),
      clients: [...s.clients.values()].map((c) => ({
        clientId: c.clientId,
        namespace: c.namespace,
        type: c.clientSecret === '' ? 'Public' : 'Confidential',
      })),
      users: [...s.users.values()].map((u) => ({
        userId: u.userId,
        username: u.username,
        password: u.password,
        namespace: u.namespace,
      })),
      roles: [...s.roles.keys()],
    }
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve, reject) => {
      const server = this.server
      if (!server) return resolve()
      this.abortWaits()
      server.close((err) => (err ? reject(err) : resolve()))
      server.closeAllConnections()
    })
    return this.closing
  }
}

function originOf(address: AddressInfo): string {
  // A wildcard bind is reachable on loopback; print that rather than an unroutable address.
  let host = address.address
  if (host === '0.0.0.0') host = '127.0.0.1'
  if (host === '::') host = '::1'
  return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`
}

/**
 * Starts an IAM emulator: a real HTTP server on `host:port` (default `127.0.0.1`, ephemeral
 * port) serving the IAM and basic-service endpoints the SDK uses, seeded with `config` (default
 * {@link demoConfig}).
 *
 * @throws TypeError when the options or the config are invalid (the message names each field).
 * @example
 * ```ts
 * import { startEmulator } from 'iam-node-sdk/emulator'
 * import { IamClient } from 'iam-node-sdk'
 *
 * const emulator = await startEmulator()
 * const iam = new IamClient({
 *   baseUrl: emulator.baseUrl,
 *   basicBaseUrl: emulator.basicBaseUrl,
 *   clientId: emulator.clientId,
 *   clientSecret: emulator.clientSecret,
 * })
 * const token = await emulator.issueUserToken({
 *   permissions: [{ Resource: `NAMESPACE:${emulator.namespace}:USER:*`, Action: 2 }],
 * })
 * // ... exercise the SDK ...
 * await emulator.close()
 * ```
 */
export async function startEmulator(options: StartEmulatorOptions = {}): Promise<Emulator> {
  const { port = 0, host = '127.0.0.1' } = options
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TypeError(`startEmulator: port must be an integer 0-65535, got ${String(port)}`)
  }
  if (typeof host !== 'string' || host === '') {
    throw new TypeError('startEmulator: host must be a non-empty string')
  }
  const config = validateConfig(options.config ?? demoConfig(), randomHex)
  const state = await EmulatorState.create(config)
  const faults = new FaultTable(EMULATOR_ENDPOINTS)
  const emulator = new RunningEmulator(state, faults)
  const routes = [...iamRoutes(state), ...adminRoutes(emulator)]
  const { server, abortWaits } = createHttpServer(routes, faults)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  const origin = originOf(address)
  emulator.attach(server, abortWaits, origin, address.port)
  state.issuer = config.issuer ?? `${origin}/iam`
  return emulator
}
