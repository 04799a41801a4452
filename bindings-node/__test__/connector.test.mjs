// registerCa: a JavaScript function as a CA connector, issuing through an outside CA that
// openssl runs; its sensitive parameter never shows in an error.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'

import { Certloop } from 'certloop'

import { openssl, tempDir } from './helpers.mjs'

const run = promisify(execFile)

/** An outside CA made by openssl in `dir`; `sign(csr)` signs a CSR with it (async). */
function outsideCa(dir) {
  const key = join(dir, 'ca.key')
  const cert = join(dir, 'ca.pem')
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=Outside Test CA', '-days', '30', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
  let n = 0
  const sign = async (csr) => {
    const base = join(dir, `req-${n++}`)
    writeFileSync(`${base}.csr`, csr)
    await run('openssl', ['x509', '-req', '-in', `${base}.csr`, '-CA', cert, '-CAkey', key, '-CAcreateserial', '-days', '20', '-copy_extensions', 'copyall', '-out', `${base}.pem`])
    return readFileSync(`${base}.pem`, 'utf8') + readFileSync(cert, 'utf8')
  }
  return { cert, sign }
}

async function withConnectorProfile() {
  const cl = await Certloop.inMemory()
  await cl.initDefault()
  await cl.saveProfile({ slug: 'outside', templateId: 'tls-server', issuer: { type: 'connector', name: 'outside' } })
  return cl
}

const request = (cn) => ({ profileId: 'outside', attributes: { commonName: cn, altNames: [{ type: 'DNS', value: cn }], ttl: '30d' } })

test('a registered async function issues through an outside CA that openssl verifies', async () => {
  const cl = await withConnectorProfile()
  const { dir, cleanup } = tempDir()
  try {
    const ca = outsideCa(dir)
    const seen = []
    cl.registerCa('outside', async (csr, commonName, args) => {
      seen.push([commonName, args])
      return ca.sign(csr)
    }, { params: [{ name: 'token', value: 'js-s3cret', sensitive: true }, { name: 'team', value: 'web' }] })

    const issued = await cl.issue(request('js.example.internal'))
    assert.deepEqual(seen, [['js.example.internal', { token: 'js-s3cret', team: 'web' }]])
    assert.match(issued.privateKey, /BEGIN PRIVATE KEY/)
    writeFileSync(join(dir, 'leaf.pem'), issued.certificate)
    assert.match(openssl(['verify', '-CAfile', ca.cert, join(dir, 'leaf.pem')]), /leaf\.pem: OK/)
    const record = await cl.show(issued.certificateId)
    assert.match(record.issuer, /Outside Test CA/)
    assert.deepEqual(record.altNames, [{ type: 'DNS', value: 'js.example.internal' }])

    // A plain function answering synchronously is fine too (here: the same signed PEM).
    const pem = await ca.sign(openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k.pem'), '-subj', '/CN=sync.example.internal', '-addext', 'subjectAltName=DNS:sync.example.internal']))
    cl.registerCa('outside', () => pem)
    const csr = readFileSync(join(dir, 'req-1.csr'), 'utf8')
    const fromSync = await cl.issue({ ...request('sync.example.internal'), csr })
    assert.equal(fromSync.privateKey, undefined)
  } finally {
    cleanup()
  }
})

test('what a registered function throws, returns wrongly or never answers is a CA error without its secret', async () => {
  const cl = await withConnectorProfile()
  const params = [{ name: 'token', value: 'js-s3cret', sensitive: true }]
  const refused = async (promise, check) => {
    await assert.rejects(promise, (e) => {
      assert.equal(e.code, 'CA_ERROR', e.message)
      assert.ok(!JSON.stringify({ ...e, message: e.message, stack: e.stack }).includes('js-s3cret'), e.message)
      check?.(e)
      return true
    })
  }

  cl.registerCa('outside', (csr, cn, args) => {
    throw new Error(`refused: bad token ${args.token}`)
  }, { params })
  await refused(cl.issue(request('a.example.internal')), (e) => assert.match(e.message, /refused: bad token/))

  cl.registerCa('outside', async (csr, cn, args) => Promise.reject(new Error(`async refusal ${args.token}`)), { params })
  await refused(cl.issue(request('b.example.internal')), (e) => assert.match(e.message, /async refusal/))

  cl.registerCa('outside', () => 42, { params })
  await refused(cl.issue(request('c.example.internal')), (e) => assert.match(e.message, /not a PEM string/))

  cl.registerCa('outside', () => '-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n', { params })
  await refused(cl.issue(request('d.example.internal')))

  cl.registerCa('outside', () => new Promise(() => {}), { params, timeoutSeconds: 0.2 })
  await refused(cl.issue(request('e.example.internal')), (e) => {
    assert.match(e.message, /did not answer within 0.2 s/)
    assert.equal(e.retryable, true)
  })
  assert.equal((await cl.list({ san: 'e.example.internal' })).length, 0, 'nothing was recorded')

  assert.throws(() => cl.registerCa('outside', 'not a function'), (e) => e.code === 'INVALID_INPUT' && e.field === 'fn')
  assert.throws(() => cl.registerCa('outside', () => null, { timeoutSeconds: -1 }), (e) => e.code === 'INVALID_INPUT' && e.field === 'options.timeoutSeconds')
  assert.throws(() => cl.registerCa('outside', () => null, { params: [{ name: 'ticket', dynamic: true }] }), (e) => e.code === 'POLICY_VIOLATION' || e.code === 'INVALID_INPUT')
})
