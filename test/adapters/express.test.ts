import express from 'express'
import express4 from 'express4'

import { buildExpressApp } from './express-app.js'
import { runCaseTable } from './harness.js'

runCaseTable('Express 5', (spec) => buildExpressApp(express, spec))
runCaseTable('Express 4', (spec) => buildExpressApp(express4, spec))
