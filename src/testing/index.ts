/**
 * Test helpers for services that use iam-node-sdk: one call starts a local IAM emulator and
 * hands back the options to point an `IamClient` at it.
 *
 * @example
 * ```ts
 * import { before, after, test } from 'node:test'
 * import assert from 'node:assert/strict'
 * import { IamClient } from 'iam-node-sdk'
 * import { startTestIam, type TestIam } from 'iam-node-sdk/testing'
 *
 * let iam: TestIam
 * let client: IamClient
 * before(async () => {
 *   iam = await startTestIam()
 *   client = new IamClient({ ...iam.clientOptions })
 *   await client.clientTokenGrant()
 *   await client.startLocalValidation()
 * })
 * after(async () => {
 *   await client.close()
 *   await iam.close()
 * })
 *
 * test('a user with the permission gets in', async () => {
 *   const token = await iam.emulator.issueUserToken({
 *     permissions: [{ Resource: `NAMESPACE:${iam.emulator.namespace}:USER:*`, Action: 2 }],
 *   })
 *   const claims = await client.validateAndParseClaims(token)
 *   assert.equal(claims.namespace, iam.emulator.namespace)
 * })
 * ```
 * @packageDocumentation
 */
import { startEmulator, type Emulator, type EmulatorConfig } from '../emulator/index.js'

/** Options of {@link startTestIam}. */
export interface StartTestIamOptions {
  /** What to seed the emulator with; default the demo config. */
  config?: EmulatorConfig
}

/** Connection options for `new IamClient(...)`, pointing at the emulator. */
export interface TestIamClientOptions {
  baseUrl: string
  basicBaseUrl: string
  clientId: string
  clientSecret: string
}

/** A running test IAM. */
export interface TestIam {
  /** The emulator: mint tokens, create roles and clients, revoke, rotate keys, inject faults. */
  emulator: Emulator
  /** Spread into `new IamClient({ ...clientOptions })`. */
  clientOptions: TestIamClientOptions
  /** Stops the emulator. */
  close(): Promise<void>
}

/**
 * Starts an IAM emulator on `127.0.0.1` with an ephemeral port, for a test suite.
 *
 * @example
 * ```ts
 * const iam = await startTestIam()
 * const client = new IamClient({ ...iam.clientOptions })
 * // ...
 * await iam.close()
 * ```
 */
export async function startTestIam(options: StartTestIamOptions = {}): Promise<TestIam> {
  const emulator = await startEmulator(
    options.config === undefined ? { port: 0 } : { port: 0, config: options.config },
  )
  return {
    emulator,
    clientOptions: {
      baseUrl: emulator.baseUrl,
      basicBaseUrl: emulator.basicBaseUrl,
      clientId: emulator.clientId,
      clientSecret: emulator.clientSecret,
    },
    close: () => emulator.close(),
  }
}

export type { Emulator, EmulatorConfig } from '../emulator/index.js'
