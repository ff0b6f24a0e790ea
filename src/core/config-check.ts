/**
 * Catching configuration mistakes: an unknown key in an options object is a `TypeError` that
 * names the nearest known one; unknown `IAM_*` variables and settings are listed for a warning.
 * A typo in a security setting (`csrfProtecton: false`) must not silently leave the default.
 *
 * The edit distance is written here (a dozen lines) rather than taken from a package: it runs a
 * few times at start-up on short names, so no dependency is worth it.
 */

/** Levenshtein distance between two short strings. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      current[j] = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + cost,
      )
    }
    previous = current
  }
  return previous[b.length] as number
}

/**
 * The known name closest to `name` (case-insensitively), if it is close enough to be a typo:
 * at most a third of the name's length apart, and at least 3 edits for short names.
 *
 * @example
 * ```ts
 * nearestName('csrfProtecton', ['csrfProtection', 'corsEnable']) // 'csrfProtection'
 * ```
 */
export function nearestName(name: string, known: Iterable<string>): string | undefined {
  const wanted = name.toLowerCase()
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of known) {
    const d = distance(wanted, candidate.toLowerCase())
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return bestDistance <= Math.max(3, Math.floor(name.length / 3)) ? best : undefined
}

/** `; did you mean "x"?` when there is a near name. */
function suggestion(name: string, known: Iterable<string>): string {
  const near = nearestName(name, known)
  return near === undefined ? '' : `; did you mean "${near}"?`
}

/**
 * Throws a `TypeError` for the first key of `options` that is not in `known`, naming the nearest
 * known key. Keys whose value is `undefined` are ignored (spreading optional values is common).
 *
 * @example
 * ```ts
 * assertKnownKeys({ csrfProtecton: false }, ['csrfProtection'], 'IAM option')
 * // TypeError: IAM option "csrfProtecton" is unknown; did you mean "csrfProtection"?
 * ```
 */
export function assertKnownKeys(options: object, known: readonly string[], label: string): void {
  const set = new Set(known)
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined || set.has(key)) continue
    throw new TypeError(`${label} "${key}" is unknown${suggestion(key, known)}`)
  }
}

/** An `IAM_*` key nobody reads, and the known key it was probably meant to be. */
export interface UnknownSettingKey {
  readonly key: string
  readonly nearest: string | undefined
}

/**
 * The keys of `keys` that start with `IAM_` and are not in `known`, each with its nearest known
 * key, for one warning at start-up.
 *
 * @example
 * ```ts
 * unknownIamKeys(Object.keys(process.env), knownKeys) // [{ key: 'IAM_CSRF_PROTECTON', nearest: 'IAM_CSRF_PROTECTION' }]
 * ```
 */
export function unknownIamKeys(
  keys: Iterable<string>,
  known: ReadonlySet<string>,
): UnknownSettingKey[] {
  const out: UnknownSettingKey[] = []
  for (const key of keys) {
    if (!key.startsWith('IAM_') || known.has(key)) continue
    out.push({ key, nearest: nearestName(key, known) })
  }
  return out
}

/** One line listing unknown keys with their nearest known ones. */
export function describeUnknownKeys(unknown: readonly UnknownSettingKey[]): string {
  return unknown
    .map(({ key, nearest }) => (nearest === undefined ? key : `${key} (did you mean ${nearest}?)`))
    .join(', ')
}
