import Koa from 'koa'
import koa2 from 'koa2'

import { buildKoaApp } from './koa-app.js'
import { runCaseTable } from './harness.js'

runCaseTable('Koa 3', (spec) => buildKoaApp(Koa, spec))
runCaseTable('Koa 2', (spec) => buildKoaApp(koa2, spec))
