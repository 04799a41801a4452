// Keystores, deployment targets, deployment with rollback, the pinning check and the ACME order
// calls, through the binding; what certloop writes is read back with openssl.
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

import { Certloop } from 'certloop'

import { openssl, startTlsServer, tempDir } from './helpers.mjs'

async function setUp() {
  const cl = await Certloop.inMemory()
  await cl.initDefault()
  return cl
}

/** The SHA-256 fingerprint openssl computes for the first certificate of `file`. */
function fingerprint(file) {
  const out = openssl(['x509', '-in', file, '-noout', '-fingerprint', '-sha256'])
  return out.trim().split('=')[1].replaceAll(':', '').toLowerCase()
}

test('writeKeystore writes PEM and PKCS#12 files that openssl reads, and never returns the password', async () => {
  const cl = await setUp()
  const issued = await cl.issue({ attributes: { commonName: 'ks.example.internal', altNames: [{ type: 'DNS', value: 'ks.example.internal' }] } })
  const record = await cl.show(issued.certificateId)
  const { dir, cleanup } = tempDir()
  try {
    const pem = await cl.writeKeystore(issued, { format: 'pem', fullchainPath: join(dir, 'full.pem'), keyPath: join(dir, 'key.pem') })
    assert.deepEqual(pem.map((p) => p.slice(dir.length + 1)).sort(), ['full.pem', 'key.pem'])
    assert.equal(fingerprint(join(dir, 'full.pem')), record.fingerprintSha256)
    // The key is the certificate's: openssl derives the same public key from both.
    const fromKey = openssl(['pkey', '-in', join(dir, 'key.pem'), '-pubout'])
    const fromCert = openssl(['x509', '-in', join(dir, 'full.pem'), '-noout', '-pubkey'])
    assert.equal(fromKey, fromCert)

    const p12 = join(dir, 'ks.p12')
    const written = await cl.writeKeystore(issued, { format: 'pkcs12', path: p12, password: 'n0de-secret', alias: 'web' })
    assert.deepEqual(written, [p12])
    assert.ok(!JSON.stringify(written).includes('n0de-secret'))
    const certs = openssl(['pkcs12', '-in', p12, '-passin', 'pass:n0de-secret', '-nokeys', '-clcerts'])
    assert.equal((certs.match(/BEGIN CERTIFICATE/g) ?? []).length, 1, 'the leaf alone with -clcerts')
    writeFileSync(join(dir, 'from-p12.pem'), certs)
    assert.equal(fingerprint(join(dir, 'from-p12.pem')), record.fingerprintSha256)
    const key = openssl(['pkcs12', '-in', p12, '-passin', 'pass:n0de-secret', '-nocerts', '-nodes'])
    assert.match(key, /BEGIN PRIVATE KEY/)
    assert.match(key, /friendlyName: web/, 'the key entry carries the alias')
    assert.throws(() => openssl(['pkcs12', '-in', p12, '-passin', 'pass:wrong', '-nokeys']), 'the password protects it')

    // A password typed into the wrong field is not echoed back (serde quotes the value).
    await assert.rejects(cl.writeKeystore(issued, { format: 'n0de-secret', path: join(dir, 'x') }), (e) => {
      assert.equal(e.code, 'INVALID_INPUT')
      assert.equal(e.field, 'spec.format')
      assert.match(e.message, /unknown variant, expected one of `pem`/)
      assert.ok(!e.message.includes('n0de-secret'), e.message)
      return true
    })
    await assert.rejects(cl.writeKeystore(issued, { format: 'pkcs12', path: join(dir, 'y.p12'), password: 'n0de-secret' }, -1), (e) => e.code === 'INVALID_INPUT' && e.field === 'keep')
  } finally {
    cleanup()
  }
})

test('deploy to a file target, then a failing reload command rolls the old files back', async () => {
  const cl = await setUp()
  const { dir, cleanup } = tempDir()
  try {
    const certPath = join(dir, 'site.crt')
    const keyPath = join(dir, 'site.key')
    const target = await cl.saveTarget({ name: 'web', type: 'nginx', certPath, keyPath, testCommand: ['true'], reloadCommand: ['true'] })
    assert.equal(target.name, 'web')
    assert.equal((await cl.getTarget('web')).id, target.id)
    assert.deepEqual((await cl.listTargets()).map((t) => t.name), ['web'])

    const first = await cl.issue({ attributes: { commonName: 'web.example.internal' }, manageKey: true })
    const report = await cl.deploy(first.certificateId, 'web')
    assert.equal(report.success, true)
    assert.equal(report.rolledBack, false)
    assert.deepEqual(report.steps.map((s) => s.step), ['precheck', 'write', 'configTest', 'reload'])
    assert.equal((await cl.show(first.certificateId)).state, 'deployed')
    const deployedCert = readFileSync(certPath, 'utf8')
    const deployedKey = readFileSync(keyPath, 'utf8')
    assert.equal(fingerprint(certPath), (await cl.show(first.certificateId)).fingerprintSha256)

    // The same target with a reload that fails: the second certificate must not stay.
    await cl.saveTarget({ name: 'web', type: 'nginx', certPath, keyPath, testCommand: ['true'], reloadCommand: ['sh', '-c', 'exit 3'] })
    const second = await cl.issue({ attributes: { commonName: 'web.example.internal' }, manageKey: true })
    await assert.rejects(cl.deploy(second.certificateId, 'web'), (e) => {
      assert.equal(e.code, 'DEPLOYMENT_FAILED')
      assert.equal(e.target, 'web')
      assert.equal(e.rolledBack, true)
      assert.equal(e.retryable, false)
      return true
    })
    assert.equal(readFileSync(certPath, 'utf8'), deployedCert, 'the first certificate is back')
    assert.equal(readFileSync(keyPath, 'utf8'), deployedKey, 'and its key')
    assert.equal((await cl.show(second.certificateId)).state, 'issued')

    const failed = await cl.deployWithReport(second.certificateId, 'web')
    assert.equal(failed.success, false)
    assert.equal(failed.failedStep, 'reload')
    assert.equal(failed.rolledBack, true)
    assert.ok(failed.steps.some((s) => s.step === 'rollback' && s.ok))
    assert.equal(readFileSync(certPath, 'utf8'), deployedCert)

    // Without rollback the new files stay in place.
    const kept = await cl.deployWithReport(second.certificateId, 'web', false)
    assert.equal(kept.rolledBack, false)
    assert.equal(fingerprint(certPath), (await cl.show(second.certificateId)).fingerprintSha256)

    const audit = (await cl.auditLog()).map((e) => e.action)
    assert.ok(audit.includes('rolledBack') && audit.includes('deployFailed') && audit.includes('deployed'), audit.join(' '))

    const noKey = await cl.issue({ attributes: { commonName: 'nokey.example.internal' } })
    await assert.rejects(cl.deploy(noKey.certificateId, 'web'), (e) => e.code === 'INVALID_STATE')
    await assert.rejects(cl.deploy(first.certificateId, 'nowhere'), (e) => e.code === 'NOT_FOUND' && e.id === 'nowhere')
    await cl.removeTarget('web')
    assert.deepEqual(await cl.listTargets(), [])
  } finally {
    cleanup()
  }
})

test('target passwords are sealed and come back redacted', async () => {
  const cl = await setUp()
  const { dir, cleanup } = tempDir()
  try {
    const saved = await cl.saveTarget({ name: 'tomcat', type: 'tomcat', keystorePath: join(dir, 'ks.p12'), keystorePassword: 'tomcat-s3cret' })
    for (const shown of [saved, await cl.getTarget('tomcat'), ...(await cl.listTargets())]) {
      assert.equal(shown.keystorePassword, '[redacted]')
      assert.ok(!JSON.stringify(shown).includes('tomcat-s3cret'))
    }
    const issued = await cl.issue({ attributes: { commonName: 'tc.example.internal' }, manageKey: true })
    const report = await cl.deploy(issued.certificateId, 'tomcat')
    assert.equal(report.success, true)
    const certs = openssl(['pkcs12', '-in', join(dir, 'ks.p12'), '-passin', 'pass:tomcat-s3cret', '-nokeys', '-clcerts'])
    assert.match(certs, /BEGIN CERTIFICATE/)
    assert.ok(!JSON.stringify(await cl.auditLog()).includes('tomcat-s3cret'))
  } finally {
    cleanup()
  }
})

test('pinCheck and discoverNetwork against a loopback openssl s_server', async () => {
  const cl = await setUp()
  const issued = await cl.issue({ attributes: { commonName: 'pin.example.internal', altNames: [{ type: 'DNS', value: 'pin.example.internal' }] } })
  const { dir, cleanup } = tempDir()
  let server
  try {
    writeFileSync(join(dir, 'c.pem'), issued.certificate)
    writeFileSync(join(dir, 'chain.pem'), issued.certificateChain)
    writeFileSync(join(dir, 'k.pem'), issued.privateKey, { mode: 0o600 })
    server = await startTlsServer(join(dir, 'c.pem'), join(dir, 'k.pem'), join(dir, 'chain.pem'))

    const check = await cl.pinCheck(issued.certificateId, server.endpoint, 'pin.example.internal')
    assert.equal(check.matches, true)
    assert.equal(check.endpoint, server.endpoint)
    assert.equal(check.servedSha256, (await cl.show(issued.certificateId)).fingerprintSha256)
    assert.equal(check.servedChainLength, 3)

    const other = await cl.issue({ attributes: { commonName: 'other.example.internal' } })
    const mismatch = await cl.pinCheck(other.certificateId, server.endpoint)
    assert.equal(mismatch.matches, false)
    assert.equal(mismatch.expectedSha256, (await cl.show(other.certificateId)).fingerprintSha256)
    assert.equal(mismatch.servedSha256, check.servedSha256)
    assert.ok((await cl.auditLog()).some((e) => e.action === 'pinChecked' && e.outcome === 'failure'))

    const found = await cl.discoverNetwork({ targets: [server.endpoint], timeoutMs: 5000 })
    assert.equal(found.items.length, 1)
    assert.equal(found.items[0].certificateId, issued.certificateId, 'the served certificate is the one certloop issued')
    assert.equal(found.items[0].newCertificate, false)
    assert.deepEqual(found.items[0].location, { kind: 'endpoint', host: '127.0.0.1', port: Number(server.endpoint.split(':')[1]) })
  } finally {
    await server?.stop()
    cleanup()
  }
  // Nothing listens any more: an I/O error, not a hang.
  await assert.rejects(cl.pinCheck(issued.certificateId, server.endpoint), (e) => e.code === 'IO_ERROR')
})

test('ACME accounts and kept orders without an ACME profile', async () => {
  const cl = await setUp()
  assert.deepEqual(await cl.listOrders(), [])
  assert.deepEqual(await cl.acmeAccounts(), [])
  await assert.rejects(cl.getOrder('no-such-order'), (e) => e.code === 'NOT_FOUND' && e.id === 'no-such-order')
  await assert.rejects(cl.resumeOrder('no-such-order'), (e) => e.code === 'NOT_FOUND')
  await assert.rejects(cl.acmeRegister('tls-server'), (e) => e.code === 'INVALID_INPUT')
  await assert.rejects(cl.acmeRegister(42), (e) => e.code === 'INVALID_INPUT' && e.field === 'profile')
  const issued = await cl.issue({ attributes: { commonName: 'w.example.internal' } })
  assert.equal(await cl.acmeRenewalWindow(issued.certificateId), null)
})
