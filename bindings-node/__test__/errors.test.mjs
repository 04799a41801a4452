// Errors from ESM: every failure is an Error with a stable `code`; wrong argument types reject
// (or throw, for *Sync) with INVALID_INPUT naming the argument and never crash the process.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { Certloop, inspectCertificate, inspectCertificateSync, inspectCsrSync, generateKey, buildCsr } from 'certloop'
import certloopDefault from 'certloop'

/** Assert that `promise` rejects with an Error carrying `code` (and more `fields`). */
async function rejectsWith(promise, code, fields = {}) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof Error, 'an Error object')
    assert.equal(error.code, code, error.message)
    for (const [key, value] of Object.entries(fields)) assert.deepEqual(error[key], value, key)
    return true
  })
}

async function ready() {
  const cl = await Certloop.inMemory()
  await cl.initDefault()
  return cl
}

test('ESM named and default exports are the same binding', () => {
  assert.equal(certloopDefault.Certloop, Certloop)
  assert.equal(typeof certloopDefault.inspectCsrSync, 'function')
})

test('policy violations list every broken rule with its field', async () => {
  const cl = await ready()
  await cl.saveTemplate({
    slug: 'strict',
    sans: [{ type: 'DNS', allowed: ['*.corp.example'] }],
    algorithms: { keyAlgorithm: ['EC_prime256v1'] },
    validity: { max: '30d' },
  })
  await cl.saveProfile({ slug: 'strict', templateId: 'strict', issuer: { type: 'internalCa', caId: 'certloop-issuing' } })
  const refused = cl.issue({
    profileId: 'strict',
    attributes: { commonName: 'www.evil.example', ttl: '1y', keyAlgorithm: 'RSA_2048' },
  })
  await assert.rejects(refused, (error) => {
    assert.equal(error.code, 'POLICY_VIOLATION')
    assert.equal(error.retryable, false)
    assert.ok(Array.isArray(error.violations) && error.violations.length >= 3, JSON.stringify(error.violations))
    const fields = error.violations.map((v) => v.field)
    assert.ok(fields.some((f) => f.startsWith('attributes.ttl') || f === 'ttl'), fields.join())
    assert.ok(fields.some((f) => f.includes('keyAlgorithm')), fields.join())
    assert.ok(error.violations.every((v) => typeof v.message === 'string' && v.message.length > 0))
    return true
  })
  // The refusal is audited; nothing was stored.
  assert.equal((await cl.list()).length, 0)
  assert.ok((await cl.auditLog()).some((e) => e.action === 'refused' && e.outcome === 'failure'))
})

test('malformed requests and unknown values are INVALID_INPUT', async () => {
  const cl = await ready()
  await rejectsWith(cl.issue({ attributes: { commonName: 'x.example' }, surprise: true }), 'INVALID_INPUT', { field: 'request.surprise' })
  await rejectsWith(cl.issue({ attributes: { keyAlgorithm: 'RSA_1024', commonName: 'x.example' } }), 'INVALID_INPUT')
  await rejectsWith(cl.issue({ attributes: { commonName: 'x.example', ttl: 'forever' } }), 'INVALID_INPUT')
  await rejectsWith(cl.issue({ csr: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n' }), 'INVALID_INPUT')
  await rejectsWith(cl.revoke('whatever', 'becauseISaidSo'), 'INVALID_INPUT', { field: 'reason' })
  await rejectsWith(cl.list({ states: ['sleeping'] }), 'INVALID_INPUT', { field: 'query.states[0]' })
  await rejectsWith(generateKey('DSA_1024'), 'INVALID_INPUT', { field: 'keyAlgorithm' })
  await rejectsWith(buildCsr({ privateKey: 'not a key', subject: { commonName: 'a.example' } }), 'INVALID_INPUT')
  await rejectsWith(inspectCertificate('garbage'), 'INVALID_INPUT')
  assert.throws(() => inspectCertificateSync('garbage'), { code: 'INVALID_INPUT' })
  assert.throws(() => inspectCsrSync(''), { code: 'INVALID_INPUT' })
})

test('wrong argument types reject with INVALID_INPUT naming the argument', async () => {
  const cl = await ready()
  await rejectsWith(cl.issue(), 'INVALID_INPUT', { field: 'request' })
  await rejectsWith(cl.issue(42), 'INVALID_INPUT', { field: 'request' })
  await rejectsWith(cl.issue('app.example.com'), 'INVALID_INPUT', { field: 'request' })
  await rejectsWith(cl.issue(() => ({})), 'INVALID_INPUT', { field: 'request' })
  await rejectsWith(cl.issue(Symbol('x')), 'INVALID_INPUT', { field: 'request' })
  await rejectsWith(cl.issue({ attributes: { commonName: 7 } }), 'INVALID_INPUT', { field: 'request.attributes' })
  await rejectsWith(cl.show(), 'INVALID_INPUT', { field: 'id' })
  await rejectsWith(cl.show({ id: 'x' }), 'INVALID_INPUT', { field: 'id' })
  await rejectsWith(cl.renew(12), 'INVALID_INPUT', { field: 'id' })
  await rejectsWith(cl.expiringWithin(-1), 'INVALID_INPUT', { field: 'days' })
  await rejectsWith(cl.createCa([]), 'INVALID_INPUT', { field: 'spec' })
  await rejectsWith(Certloop.open(5), 'INVALID_INPUT', { field: 'dir' })
  await rejectsWith(Certloop.inMemory({ actor: 5 }), 'INVALID_INPUT', { field: 'options.actor' })
  await rejectsWith(inspectCertificate(Buffer.from('x')), 'INVALID_INPUT', { field: 'certificate' })
  assert.throws(() => inspectCertificateSync(null), { code: 'INVALID_INPUT', field: 'certificate' })
  assert.throws(() => new Certloop(), Error, 'no public constructor: use open() or inMemory()')
})

test('lookups and state changes have their own codes', async () => {
  const cl = await ready()
  await rejectsWith(cl.show('no-such-certificate'), 'NOT_FOUND')
  await rejectsWith(cl.getProfile('nope'), 'NOT_FOUND')
  await rejectsWith(cl.crl('no-such-ca'), 'NOT_FOUND')
  await rejectsWith(cl.createCa({ name: 'certloop-root', subject: { commonName: 'Again' } }), 'ALREADY_EXISTS')
  const issued = await cl.issue({ attributes: { commonName: 'twice.example.com' } })
  await cl.revoke(issued.certificateId)
  await rejectsWith(cl.revoke(issued.certificateId), 'INVALID_STATE')
  await rejectsWith(cl.renew(issued.certificateId), 'INVALID_STATE')
  await rejectsWith(cl.unsuspend(issued.certificateId), 'INVALID_STATE')
  await rejectsWith(Certloop.open('/proc/certloop-cannot-be-here'), 'IO_ERROR', { retryable: true })
})
