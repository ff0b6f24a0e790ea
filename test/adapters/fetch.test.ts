import { buildFetchApp } from './fetch-app.js'
import { runCaseTable } from './harness.js'

runCaseTable('fetch (node:http bridge)', (spec) => buildFetchApp(spec))
