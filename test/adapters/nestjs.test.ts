import { CASES, PROFILES } from './cases.js'
import type { ProfileName } from './cases.js'
import { runCaseTable } from './harness.js'
import { buildNestApp } from './nestjs-app.js'

const startsWithoutIam = (profile: ProfileName) => 'fresh' in PROFILES[profile]

for (const [name, platform] of [
  ['NestJS on Express', 'express'],
  ['NestJS on Fastify', 'fastify'],
] as const) {
  runCaseTable(name, (spec) => buildNestApp(platform, spec), CASES.filter((row) => !startsWithoutIam(row.profile)))
}
for (const [name, platform] of [
  ['NestJS on Express (awaitReady: false)', 'express'],
  ['NestJS on Fastify (awaitReady: false)', 'fastify'],
] as const) {
  runCaseTable(name, (spec) => buildNestApp(platform, spec, { awaitReady: false }), CASES.filter((row) => startsWithoutIam(row.profile)))
}
