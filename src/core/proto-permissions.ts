/**
 * The permission a `.proto` file declares on each RPC through custom method options
 * (`option (resource) = "…"; option (action) = READ;`), read from a package definition loaded by
 * `@grpc/proto-loader` (plain data: no gRPC library is imported here, so that any adapter serving
 * the same `.proto` declarations can read them). Options are told apart by field number (50001
 * and 50002 by default, as in the AccelByte service templates), whatever their name or package:
 * the file descriptors the definition carries say which extension of
 * `google.protobuf.MethodOptions` has which number.
 */

/** A package definition as `@grpc/proto-loader` (or `grpc.loadPackageDefinition`'s input) holds it. */
export type PackageDefinition = Readonly<Record<string, object>>

/** Field numbers of the two method options (the AccelByte templates' 50001 and 50002). */
export interface ProtoOptionFields {
  /** The `string resource` option. Default `50001`. */
  readonly resource: number
  /** The `Action action` option (an enum or an integer). Default `50002`. */
  readonly action: number
}

/** What one RPC of the definition declares. */
export interface DeclaredMethod {
  readonly requestStream: boolean
  /** `undefined` when the RPC has neither option. */
  readonly permission: { readonly resource: string; readonly action: number } | undefined
}

interface Extension {
  /** Absolute name, `.package.name`. */
  readonly fullName: string
  readonly scope: string
  readonly number: number
  readonly typeName: string
}

interface MethodLike {
  readonly path?: unknown
  readonly requestStream?: unknown
  readonly options?: Readonly<Record<string, unknown>>
}

const METHOD_OPTIONS = '.google.protobuf.MethodOptions'

function bad(what: string): never {
  throw new TypeError(`IAM option packageDefinition: ${what}`)
}

/** The fields of one protobuf message, `[number, varint | bytes]`; fixed-width values skipped. */
function fields(bytes: Buffer): [number, number | Buffer][] {
  const out: [number, number | Buffer][] = []
  let at = 0
  const varint = (): number => {
    let value = 0
    for (let scale = 1; ; scale *= 128) {
      if (at >= bytes.length) bad('a file descriptor is truncated')
      const byte = bytes[at++] as number
      value += (byte & 0x7f) * scale
      if (byte < 0x80) return value
    }
  }
  while (at < bytes.length) {
    const key = varint()
    const wire = key % 8
    const field = Math.floor(key / 8)
    if (wire === 0) out.push([field, varint()])
    else if (wire === 2) {
      const length = varint()
      out.push([field, bytes.subarray(at, (at += length))])
    } else if (wire === 1 || wire === 5) at += wire === 1 ? 8 : 4
    else bad('a file descriptor has a field of an unknown wire type')
  }
  return out
}

/** One field of a message by number (the last one wins, as in protobuf). */
function field(bytes: Buffer, number: number): number | Buffer | undefined {
  return fields(bytes).findLast(([n]) => n === number)?.[1]
}

function text(value: number | Buffer | undefined): string {
  return Buffer.isBuffer(value) ? value.toString('utf8') : ''
}

/** What the definition's file descriptors declare: `MethodOptions` extensions, and enums. */
interface Declarations {
  readonly extensions: Extension[]
  /** Enum full name (`.package.Enum`) to its values by name. */
  readonly enums: Map<string, Map<string, number>>
}

function declarations(definition: PackageDefinition): Declarations {
  const files = new Set<Buffer>()
  for (const value of Object.values(definition)) {
    for (const file of (value as { fileDescriptorProtos?: Buffer[] }).fileDescriptorProtos ?? []) {
      if (Buffer.isBuffer(file)) files.add(file)
    }
  }
  const found: Declarations = { extensions: [], enums: new Map() }
  // Field numbers: FileDescriptorProto message_type 4, enum_type 5, extension 7; DescriptorProto
  // nested_type 3, enum_type 4, extension 6; EnumDescriptorProto value 2; FieldDescriptorProto
  // name 1, extendee 2, number 3, type_name 6.
  const walk = (bytes: Buffer, scope: string, [nested, enums, extension]: number[]): void => {
    for (const [number, value] of fields(bytes)) {
      if (!Buffer.isBuffer(value) || ![nested, enums, extension].includes(number)) continue
      const fullName = `${scope}.${text(field(value, 1))}`
      if (number === nested) walk(value, fullName, [3, 4, 6])
      if (number === enums) {
        const values = fields(value).filter(([n, v]) => n === 2 && Buffer.isBuffer(v))
        const byName = values.map(([, v]) => [text(field(v as Buffer, 1)), field(v as Buffer, 2)])
        found.enums.set(fullName, new Map(byName as [string, number][]))
      }
      if (number === extension && text(field(value, 2)) === METHOD_OPTIONS) {
        const fieldNumber = field(value, 3)
        found.extensions.push({
          fullName,
          scope,
          number: typeof fieldNumber === 'number' ? fieldNumber : 0,
          typeName: text(field(value, 6)),
        })
      }
    }
  }
  for (const file of files) {
    const pkg = text(field(file, 2))
    walk(file, pkg === '' ? '' : `.${pkg}`, [4, 5, 7])
  }
  return found
}

/** An enum value name as its number, through the enum the extension is typed with. */
function enumNumber(declared: Declarations, extension: Extension, name: string): number {
  const { typeName } = extension
  // A relative type name is looked up from the extension's scope outwards, as protoc does.
  const scopes = extension.scope.split('.')
  const candidates = typeName.startsWith('.')
    ? [typeName]
    : scopes.map((_, i) => [...scopes.slice(0, scopes.length - i), typeName].join('.'))
  for (const candidate of candidates) {
    const value = declared.enums.get(candidate)?.get(name)
    if (typeof value === 'number') return value
  }
  return bad(`action ${JSON.stringify(name)} is no value of the enum ${typeName}`)
}

/** protobufjs names fields in camelCase unless loaded with `keepCase`: compare both spellings so. */
function camel(name: string): string {
  return name.replace(/_([a-z\d])/g, (_, c: string) => c.toUpperCase())
}

/**
 * The extension an option name (`resource`, `pkg.resource`, `.pkg.resource`) stands for: the
 * full name, else the closest one to the service's package among those the name ends.
 */
function resolveOption(
  extensions: readonly Extension[],
  written: string,
  servicePackage: string,
): Extension | undefined {
  const name = camel(written.startsWith('.') ? written : `.${written}`)
  const exact = extensions.find((e) => camel(e.fullName) === name)
  if (exact !== undefined || written.startsWith('.')) return exact
  const closeness = (e: Extension) => (servicePackage.startsWith(e.scope) ? e.scope.length : -1)
  return extensions
    .filter((e) => camel(e.fullName).endsWith(name))
    .sort((a, b) => closeness(b) - closeness(a))[0]
}

/**
 * What each RPC of a package definition declares, by method path (`/package.Service/Method`).
 * Throws a `TypeError` naming the RPC when it has one option without the other, a value of the
 * wrong type, or a custom option whose extension is in no loaded file (its number is unknown, so
 * it could be the permission).
 *
 * @example
 * ```ts
 * const declared = declaredMethods(loadSync('guild.proto')) // fields 50001 and 50002
 * declared.get('/accelbyte.guild.GuildService/GetGuildProgress')?.permission
 * // { resource: 'NAMESPACE:{namespace}:CLOUDSAVE:RECORD', action: 2 }
 * ```
 */
export function declaredMethods(
  definition: PackageDefinition,
  optionFields?: Partial<ProtoOptionFields>,
): Map<string, DeclaredMethod> {
  const numbers = { resource: 50001, action: 50002, ...optionFields }
  if (!Object.values(numbers).every((n) => Number.isInteger(n) && n > 0 && n < 2 ** 29)) {
    throw new TypeError(
      'IAM option protoOptionFields must be protobuf field numbers { resource, action }',
    )
  }
  if (definition === null || typeof definition !== 'object') {
    throw new TypeError('IAM option packageDefinition must be what @grpc/proto-loader loaded')
  }
  const declared = declarations(definition)
  const extensions = declared.extensions
  for (const [name, number] of Object.entries(optionFields ?? {})) {
    if (!extensions.some((e) => e.number === number)) {
      throw new TypeError(
        `IAM option protoOptionFields: no extension of google.protobuf.MethodOptions in packageDefinition has the ${name} field number ${number}`,
      )
    }
  }
  const out = new Map<string, DeclaredMethod>()
  for (const service of Object.values(definition)) {
    if (service === null || typeof service !== 'object' || 'format' in service) continue
    for (const method of Object.values(service) as MethodLike[]) {
      if (typeof method?.path !== 'string') continue
      const servicePackage = `.${method.path.slice(1, method.path.indexOf('/', 1))}`
      const byNumber = new Map<number, [unknown, Extension]>()
      for (const [key, value] of Object.entries(method.options ?? {})) {
        const name = /^\((.+)\)$/.exec(key)?.[1]
        if (name === undefined) continue
        const extension = resolveOption(extensions, name, servicePackage)
        if (extension === undefined) {
          bad(
            `the option (${name}) of ${method.path} is declared in no loaded file, so its field number is unknown (protobufjs leaves out extensions declared inside a message: declare them at the top level of a file)`,
          )
        }
        byNumber.set(extension.number, [value, extension])
      }
      const resource = byNumber.get(numbers.resource)
      const action = byNumber.get(numbers.action)
      const where = `${method.path} declares`
      if ((resource === undefined) !== (action === undefined)) {
        bad(`${where} only one of the resource and action options`)
      }
      let permission: DeclaredMethod['permission']
      if (resource !== undefined && action !== undefined) {
        if (typeof resource[0] !== 'string') bad(`${where} a resource that is not a string`)
        const value =
          typeof action[0] === 'string' ? enumNumber(declared, action[1], action[0]) : action[0]
        if (typeof value !== 'number') bad(`${where} an action that is neither a name nor a number`)
        permission = { resource: resource[0], action: value }
      }
      out.set(method.path, { requestStream: method.requestStream === true, permission })
    }
  }
  return out
}
