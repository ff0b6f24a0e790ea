/**
 * CSRF validation of cookie-token requests (docs/iam-wire-protocol.md#54-csrf-check) and the
 * subdomain-namespace rule (docs/iam-wire-protocol.md#55-subdomain-rule). Pure functions: no I/O.
 *
 * Corrections to the Python SDK's check: origins compare as scheme + host + port; the subdomain rule
 * needs a dot boundary; the namespace rule compares the host's first label; strict mode is
 * "same origin and the redirect URI's path as a path prefix"; a sent `Origin` is checked like
 * the `Referer` (both must pass when both are sent, either alone suffices).
 */
import { isIP } from 'node:net'

/** The CSRF settings. */
export interface CsrfOptions {
  readonly strictReferer: boolean
  readonly allowSubdomainReferer: boolean
  readonly subdomainValidationEnable: boolean
  readonly subdomainValidationExcludedNamespaces: readonly string[]
}

/** Inputs of {@link checkCsrf}. */
export interface CsrfInput {
  /** The request's `Referer` header. */
  readonly referer: string | undefined
  /** The request's `Origin` header. */
  readonly origin: string | undefined
  /** The client's registered redirect URIs: the IAM's comma-separated `redirectUri` field. */
  readonly redirectUri: string
  /** The token's namespace. */
  readonly namespace: string
}

/** Why a CSRF check failed (for logs); `undefined` when it passed. */
export type CsrfFailure =
  | 'no-referer-or-origin'
  | 'referer-unparsable'
  | 'origin-unparsable'
  | 'referer-namespace-subdomain'
  | 'origin-namespace-subdomain'
  | 'referer-not-allowed'
  | 'origin-not-allowed'

interface ParsedOrigin {
  readonly scheme: string
  readonly hostname: string
  readonly port: string
  readonly path: string
}

const DEFAULT_PORTS: Readonly<Record<string, string>> = { 'http:': '80', 'https:': '443' }

/** Parses an absolute URL into scheme, host name, explicit port and path; `undefined` if unusable. */
function parse(text: string): ParsedOrigin | undefined {
  let url: URL
  try {
    url = new URL(text.trim())
  } catch {
    return undefined
  }
  if (url.hostname === '') return undefined
  const scheme = url.protocol.toLowerCase()
  return {
    scheme,
    hostname: url.hostname.toLowerCase(),
    port: url.port === '' ? (DEFAULT_PORTS[scheme] ?? '') : url.port,
    path: url.pathname,
  }
}

/** Parsed Referer/Origin values: browsers repeat the same few, and `new URL` is the costly part. */
const sourceMemo = new Map<string, ParsedOrigin | undefined>()

function parseSource(text: string): ParsedOrigin | undefined {
  let parsed = sourceMemo.get(text)
  if (parsed === undefined && !sourceMemo.has(text)) {
    parsed = parse(text)
    // Bounded: a client sending endless distinct values only empties it.
    if (sourceMemo.size >= 1024) sourceMemo.clear()
    sourceMemo.set(text, parsed === undefined ? undefined : Object.freeze(parsed))
  }
  return parsed
}

/** The host name of a `Host` header value (`name:port`, `[v6]:port`). */
export function hostnameOf(host: string): string {
  const h = host.trim().toLowerCase()
  if (h.startsWith('[')) {
    const end = h.indexOf(']')
    return end === -1 ? h : h.slice(1, end)
  }
  const colon = h.indexOf(':')
  return colon === -1 ? h : h.slice(0, colon)
}

/**
 * The namespace-subdomain rule: true when `host` (a host name, with or without port) has fewer
 * than three labels or is an IP address, when `namespace` is excluded, or when the host's first
 * label equals the namespace (case-insensitively).
 *
 * @example
 * ```ts
 * subdomainMatchesNamespace('sample-namespace.example.com:8080', 'sample-namespace', []) // true
 * subdomainMatchesNamespace('sample-namespace-evil.example.com', 'sample-namespace', []) // false
 * ```
 */
export function subdomainMatchesNamespace(
  host: string,
  namespace: string,
  excluded: readonly string[],
): boolean {
  const hostname = hostnameOf(host).replace(/\.$/, '')
  if (isIP(hostname) !== 0) return true
  const labels = hostname.split('.')
  if (labels.length < 3) return true
  const ns = namespace.toLowerCase()
  if (excluded.some((x) => x.toLowerCase() === ns)) return true
  return labels[0] === ns
}

/** True when `child` is `parent` or a subdomain of it, on a dot boundary. */
function isSameOrSubdomain(child: string, parent: string): boolean {
  return child === parent || child.endsWith(`.${parent}`)
}

/** True when the path of `uri` is a path prefix of `path` (segment boundary). */
function isPathPrefix(prefix: string, path: string): boolean {
  if (prefix === '' || prefix === '/') return true
  if (path === prefix) return true
  return prefix.endsWith('/') ? path.startsWith(prefix) : path.startsWith(`${prefix}/`)
}

/** Checks one Referer or Origin against one redirect URI under the configured mode. */
function matches(
  source: ParsedOrigin,
  uri: ParsedOrigin,
  options: CsrfOptions,
  checkPath: boolean,
): boolean {
  if (source.scheme !== uri.scheme || source.port !== uri.port) return false
  if (options.subdomainValidationEnable || options.allowSubdomainReferer) {
    return isSameOrSubdomain(source.hostname, uri.hostname)
  }
  if (source.hostname !== uri.hostname) return false
  // Strict mode can only check the path of a Referer: an Origin has none.
  return !(options.strictReferer && checkPath) || isPathPrefix(uri.path, source.path)
}

/** Parsed redirect URI lists, by their text (a few clients per service: a small bounded memo). */
const redirectMemo = new Map<string, readonly ParsedOrigin[] | undefined>()

/** The parsed redirect URIs of a client; `undefined` when none is registered. */
function redirectOrigins(redirectUri: string): readonly ParsedOrigin[] | undefined {
  let allowed = redirectMemo.get(redirectUri)
  if (allowed === undefined && !redirectMemo.has(redirectUri)) {
    const uris = redirectUri
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== '')
    allowed =
      uris.length === 0
        ? undefined
        : Object.freeze(uris.map(parse).filter((x): x is ParsedOrigin => x !== undefined))
    if (redirectMemo.size >= 256) redirectMemo.clear()
    redirectMemo.set(redirectUri, allowed)
  }
  return allowed
}

/**
 * Validates the `Referer` and `Origin` of a cookie-token request against the client's redirect
 * URIs. Returns `undefined` when the request passes, else why it failed.
 *
 * - A client with no redirect URI registered passes (as the Python SDK).
 * - At least one of `Referer`/`Origin` must be sent; each one sent must match a redirect URI.
 *   `Origin: null` (opaque origin) never matches.
 * - With `subdomainValidationEnable`, each one sent must also pass the namespace-subdomain rule.
 *
 * @example
 * ```ts
 * checkCsrf({ referer: 'https://app.example.com/page', origin: undefined,
 *             redirectUri: 'https://app.example.com', namespace: 'ns' }, options) // undefined
 * ```
 */
export function checkCsrf(input: CsrfInput, options: CsrfOptions): CsrfFailure | undefined {
  const sources: { kind: 'referer' | 'origin'; value: string }[] = []
  if (input.referer !== undefined && input.referer.trim() !== '') {
    sources.push({ kind: 'referer', value: input.referer })
  }
  if (input.origin !== undefined && input.origin.trim() !== '') {
    sources.push({ kind: 'origin', value: input.origin })
  }
  const parsed: { kind: 'referer' | 'origin'; url: ParsedOrigin }[] = []
  let unparsable: CsrfFailure | undefined
  for (const { kind, value } of sources) {
    const url = parseSource(value)
    if (url === undefined) {
      // With the namespace rule on, a host that cannot be read fails it (as in the Python SDK).
      if (options.subdomainValidationEnable) return `${kind}-namespace-subdomain`
      unparsable ??= `${kind}-unparsable`
      continue
    }
    parsed.push({ kind, url })
    if (
      options.subdomainValidationEnable &&
      !subdomainMatchesNamespace(
        url.hostname,
        input.namespace,
        options.subdomainValidationExcludedNamespaces,
      )
    ) {
      return `${kind}-namespace-subdomain`
    }
  }
  const allowed = redirectOrigins(input.redirectUri)
  if (allowed === undefined) return undefined
  if (unparsable !== undefined) return unparsable
  if (parsed.length === 0) return 'no-referer-or-origin'
  for (const { kind, url } of parsed) {
    if (!allowed.some((uri) => matches(url, uri, options, kind === 'referer'))) {
      return `${kind}-not-allowed`
    }
  }
  return undefined
}
