/** A minimal valid claims object for unit tests, with overrides. */
import type { JwtClaims } from '../../src/index.js'

export function testClaims(extra: Partial<JwtClaims> = {}): JwtClaims {
  return {
    sub: 'u1',
    exp: 0,
    namespace: 'ns',
    client_id: 'web',
    scope: '',
    jflgs: 0,
    roles: [],
    namespace_roles: [],
    permissions: [],
    bans: [],
    ...extra,
  }
}
