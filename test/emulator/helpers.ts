// Shared helpers of the emulator tests: plain fetch calls as an SDK would make them.
import assert from 'node:assert/strict'
import type { Emulator } from '../../src/emulator/index.js'

/** Parsed JSON of a response; tests assert its shape, so it is left untyped on purpose. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any

/** `Authorization: Basic` header value. */
export function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`
}

/** Basic header of the emulator's default client. */
export function defaultBasic(emu: Emulator): string {
  return basic(emu.clientId, emu.clientSecret)
}

/** POSTs a form with optional Authorization header; returns status and parsed JSON (or text). */
export async function postForm(
  url: string,
  fields: Record<string, string>,
  authorization?: string,
): Promise<{ status: number; body: Json; headers: Headers; text: string }> {
  const headers: Record<string, string> = {
    'Content-Type': 'application/x-www-form-urlencoded',
  }
  if (authorization !== undefined) headers.Authorization = authorization
  const res = await fetch(url, { method: 'POST', headers, body: new URLSearchParams(fields) })
  return read(res)
}

/** GETs with optional Authorization header. */
export async function get(
  url: string,
  authorization?: string,
  extraHeaders: Record<string, string> = {},
): Promise<{ status: number; body: Json; headers: Headers; text: string }> {
  const headers: Record<string, string> = { ...extraHeaders }
  if (authorization !== undefined) headers.Authorization = authorization
  return read(await fetch(url, { headers }))
}

/** Sends JSON to the emulator admin API. */
export async function sendJson(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Json; headers: Headers; text: string }> {
  const init: RequestInit = { method, headers: { 'Content-Type': 'application/json', ...headers } }
  if (body !== undefined) init.body = JSON.stringify(body)
  return read(await fetch(url, init))
}

async function read(
  res: Response,
): Promise<{ status: number; body: Json; headers: Headers; text: string }> {
  const text = await res.text()
  let body: Json = undefined
  try {
    body = text === '' ? undefined : JSON.parse(text)
  } catch {
    body = text
  }
  return { status: res.status, body, headers: res.headers, text }
}

/** Decodes a JWT's header and payload without verifying. */
export function decodeJwt(token: string): { header: Json; payload: Json } {
  const [h, p] = token.split('.')
  return {
    header: JSON.parse(Buffer.from(h!, 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(p!, 'base64url').toString('utf8')),
  }
}

/** Asserts the exact key set of an object. */
export function assertKeys(value: unknown, keys: string[], message?: string): void {
  assert.ok(typeof value === 'object' && value !== null, message ?? 'expected an object')
  assert.deepEqual(Object.keys(value).sort(), [...keys].sort(), message)
}

/** A client token of the default client via the real token endpoint. */
export async function clientToken(
  emu: Emulator,
  id = emu.clientId,
  secret = emu.clientSecret,
): Promise<string> {
  const res = await postForm(
    `${emu.baseUrl}/v3/oauth/token`,
    { grant_type: 'client_credentials' },
    basic(id, secret),
  )
  assert.equal(res.status, 200, res.text)
  return res.body.access_token as string
}

export const bearer = (token: string): string => `Bearer ${token}`

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
