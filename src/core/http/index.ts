/**
 * The framework-neutral HTTP protection core: every decision of the Express, Fastify and fetch
 * integrations lives here; adapters only translate requests and responses.
 *
 * @packageDocumentation
 */
export * from './cors.js'
export * from './csrf.js'
export * from './options.js'
export * from './pipeline.js'
export * from './protection.js'
export * from './readiness.js'
export * from './request.js'
export * from './response.js'
export * from './token.js'
