// The whole flow from CommonJS: set-up, issuance with and without a CSR, inventory, renewal,
// revocation, suspension, CRLs and the audit log, cross-checked with node:crypto and openssl.
'use strict'
const assert = require('node:assert/strict')
const { test } = require('node:test')
const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')

const {
  Certloop,
  buildCsr,
  generateKey,
  inspectCertificate,
  inspectCertificateSync,
  inspectCsrSync,
  inspectCrl,
} = require('certloop')

let helpers
const load = import('./helpers.mjs').then((m) => (helpers = m))

test('issue without a CSR: node:crypto and openssl accept the certificate', async () => {
  await load
  const cl = await Certloop.inMemory()
  const setup = await cl.initDefault()
  assert.equal(setup.created, true)
  assert.equal(setup.profile.slug, 'tls-server')
  assert.equal((await cl.initDefault()).created, false, 'initDefault is idempotent')

  const issued = await cl.issue({
    attributes: {
      commonName: 'app.example.com',
      altNames: [
        { type: 'DNS', value: 'app.example.com' },
        { type: 'DNS', value: 'www.example.com' },
      ],
      ttl: '30d',
    },
  })
  for (const field of ['certificate', 'certificateChain', 'issuingCaCertificate', 'privateKey', 'serialNumber', 'certificateId']) {
    assert.equal(typeof issued[field], 'string', field)
  }

  const leaf = new crypto.X509Certificate(issued.certificate)
  const issuer = new crypto.X509Certificate(issued.issuingCaCertificate)
  assert.equal(leaf.verify(issuer.publicKey), true, 'signed by the issuing CA')
  assert.equal(leaf.verify(leaf.publicKey), false, 'not self-signed')
  assert.equal(leaf.checkIssued(issuer), true)
  assert.equal(leaf.checkHost('app.example.com'), 'app.example.com')
  assert.equal(leaf.checkHost('www.example.com'), 'www.example.com')
  assert.equal(leaf.checkHost('evil.example.net'), undefined)
  assert.equal(BigInt('0x' + leaf.serialNumber), BigInt('0x' + issued.serialNumber))
  assert.equal(leaf.checkPrivateKey(crypto.createPrivateKey(issued.privateKey)), true)
  const days = (Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)) / 86400e3
  assert.ok(days > 29 && days <= 30.01, `30 days of validity, got ${days}`)

  // The chain ends in the root, and openssl builds the path through it.
  const chain = helpers.pemBlocks(issued.certificateChain)
  assert.equal(chain.length, 2)
  const rootFingerprint = new crypto.X509Certificate(chain[1]).fingerprint256.replaceAll(':', '').toLowerCase()
  assert.equal(rootFingerprint, setup.rootCa.fingerprintSha256)
  const { dir, cleanup } = helpers.tempDir()
  try {
    const files = helpers.writeFiles(dir, { 'leaf.pem': issued.certificate, 'root.pem': chain[1], 'issuing.pem': chain[0] })
    const out = helpers.openssl(['verify', '-CAfile', files['root.pem'], '-untrusted', files['issuing.pem'], '-purpose', 'sslserver', files['leaf.pem']])
    assert.match(out, /leaf\.pem: OK/)
  } finally {
    cleanup()
  }

  const info = await inspectCertificate(issued.certificate)
  assert.deepEqual(info, inspectCertificateSync(issued.certificate))
  assert.equal(info.subject.commonName, 'app.example.com')
  assert.equal(info.keyAlgorithm, 'EC_prime256v1')
  assert.deepEqual(info.altNames.map((san) => san.value).sort(), ['app.example.com', 'www.example.com'])
  assert.equal(info.fingerprintSha256, leaf.fingerprint256.replaceAll(':', '').toLowerCase())
})

test('issue with a CSR built by certloop and with one built by openssl', async () => {
  await load
  const cl = await Certloop.inMemory()
  await cl.initDefault()

  const key = await generateKey('EC_secp384r1')
  assert.equal(key.keyAlgorithm, 'EC_secp384r1')
  const { csr } = await buildCsr({
    privateKey: key.privateKey,
    subject: { commonName: 'csr.example.com', organization: 'Example' },
    altNames: [{ type: 'DNS', value: 'csr.example.com' }],
  })
  const csrInfo = inspectCsrSync(csr)
  assert.equal(csrInfo.subject.commonName, 'csr.example.com')
  assert.equal(csrInfo.keyAlgorithm, 'EC_secp384r1')

  const issued = await cl.issue({ csr })
  assert.equal(issued.privateKey, undefined, 'no key is returned when the caller holds it')
  const leaf = new crypto.X509Certificate(issued.certificate)
  assert.equal(leaf.checkPrivateKey(crypto.createPrivateKey(key.privateKey)), true)
  assert.equal(
    leaf.publicKey.export({ type: 'spki', format: 'pem' }),
    crypto.createPublicKey(key.publicKey).export({ type: 'spki', format: 'pem' }),
  )

  // An encrypted key works with its passphrase.
  const locked = await generateKey('EC_prime256v1', { passphrase: 'correct horse' })
  assert.match(locked.privateKey, /BEGIN ENCRYPTED PRIVATE KEY/)
  const lockedCsr = await buildCsr({ privateKey: locked.privateKey, passphrase: 'correct horse', subject: { commonName: 'locked.example.com' } })
  assert.match(lockedCsr.csr, /BEGIN CERTIFICATE REQUEST/)

  // A CSR from openssl (someone else's encoder).
  const { dir, cleanup } = helpers.tempDir()
  try {
    const keyPath = path.join(dir, 'k.pem')
    const req = helpers.openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyPath, '-subj', '/CN=ossl.example.com', '-addext', 'subjectAltName=DNS:ossl.example.com'])
    const fromOpenssl = await cl.issue({ csr: req })
    const cert = new crypto.X509Certificate(fromOpenssl.certificate)
    assert.equal(cert.checkPrivateKey(crypto.createPrivateKey(fs.readFileSync(keyPath))), true)
    assert.equal(cert.checkHost('ossl.example.com'), 'ossl.example.com')
  } finally {
    cleanup()
  }
})

test('inventory, renewal, suspension, revocation, CRL and audit log', async () => {
  await load
  const cl = await Certloop.inMemory({ actor: 'node-test' })
  await cl.initDefault()
  const a = await cl.issue({ attributes: { commonName: 'a.example.com' } })
  const b = await cl.issue({ attributes: { commonName: 'b.example.com' } })

  const all = await cl.list()
  assert.deepEqual(all.map((r) => r.certificateId).sort(), [a.certificateId, b.certificateId].sort())
  const onlyB = await cl.list({ san: 'b.example.com' })
  assert.deepEqual(onlyB.map((r) => r.certificateId), [b.certificateId])
  assert.equal((await cl.list({ states: ['revoked'] })).length, 0)
  const shown = await cl.show(a.certificateId)
  assert.equal(shown.state, 'issued')
  assert.equal(shown.commonName, 'a.example.com')
  assert.equal((await cl.show(a.serialNumber)).certificateId, a.certificateId, 'show by serial')
  assert.equal((await cl.expiringWithin(400)).length, 2)

  const renewed = await cl.renew(a.certificateId)
  assert.notEqual(renewed.certificateId, a.certificateId)
  assert.equal((await cl.show(a.certificateId)).renewedBy, renewed.certificateId)
  assert.equal((await cl.show(renewed.certificateId)).renewedFrom, a.certificateId)

  const suspended = await cl.suspend(b.certificateId)
  assert.equal(suspended.state, 'suspended')
  let crl = await cl.crl()
  let listed = await inspectCrl(crl.crl)
  assert.deepEqual(listed.revoked.map((e) => [e.serialNumber, e.reason]), [[b.serialNumber, 'certificateHold']])
  assert.equal((await cl.unsuspend(b.certificateId)).state, 'issued')

  const revoked = await cl.revoke(a.certificateId, 'keyCompromise')
  assert.equal(revoked.state, 'revoked')
  assert.equal(revoked.revocationReason, 'keyCompromise')
  crl = await cl.crl('certloop-issuing')
  listed = await inspectCrl(crl.crl)
  assert.deepEqual(listed.revoked.map((e) => [e.serialNumber, e.reason]), [[a.serialNumber, 'keyCompromise']])
  assert.equal(BigInt('0x' + listed.crlNumber), BigInt(crl.crlNumber))

  // openssl checks the CRL signature against the issuing CA.
  const { dir, cleanup } = helpers.tempDir()
  try {
    const files = helpers.writeFiles(dir, { 'crl.pem': crl.crl, 'ca.pem': a.issuingCaCertificate })
    const out = helpers.openssl(['crl', '-in', files['crl.pem'], '-CAfile', files['ca.pem'], '-noout'])
    assert.equal(out, '')
  } finally {
    cleanup()
  }

  const events = await cl.auditLog({ certificateId: a.certificateId })
  const actions = events.map((e) => e.action)
  assert.deepEqual(actions, ['issued', 'renewed', 'revoked'])
  assert.ok(events.every((e) => e.actor === 'node-test'))
  const everything = await cl.auditLog()
  assert.ok(everything.some((e) => e.action === 'crlSigned'))
  assert.ok(!JSON.stringify(everything).includes('PRIVATE KEY'), 'the audit log holds no key')
  assert.deepEqual(await cl.renewalsDue(), [])
  assert.deepEqual(await cl.expireOverdue(), [])
})

test('CAs, templates and profiles of our own; issueMany', async () => {
  await load
  const cl = await Certloop.inMemory()
  const root = await cl.createCa({ name: 'lab-root', subject: { commonName: 'Lab Root' }, keyAlgorithm: 'EC_secp384r1' })
  const issuing = await cl.createCa({ name: 'lab-issuing', subject: { commonName: 'Lab Issuing' }, parent: 'lab-root', pathLength: 0 })
  assert.equal(issuing.parentId, root.id)
  assert.deepEqual((await cl.listCas()).map((c) => c.name).sort(), ['lab-issuing', 'lab-root'])
  assert.equal((await cl.getCa('lab-root')).fingerprintSha256, root.fingerprintSha256)

  const template = await cl.saveTemplate({
    slug: 'lab-web',
    sans: [{ type: 'DNS', allowed: ['*.lab.example'] }],
    validity: { max: '90d' },
  })
  assert.ok(template.id.length > 0)
  assert.deepEqual((await cl.listTemplates()).map((t) => t.slug), ['lab-web'])
  assert.equal((await cl.getTemplate('lab-web')).id, template.id)
  const profile = await cl.saveProfile({ slug: 'lab', templateId: 'lab-web', issuer: { type: 'internalCa', caId: 'lab-issuing' } })
  assert.equal(profile.issuer.caId, issuing.id, 'the CA name is resolved to its id')
  assert.deepEqual((await cl.listProfiles()).map((p) => p.slug), ['lab'])
  assert.equal((await cl.getProfile(profile.id)).slug, 'lab')

  const results = await cl.issueMany([
    { profileId: 'lab', attributes: { commonName: 'a.lab.example', ttl: '10d' } },
    { profileId: 'lab', attributes: { commonName: 'b.other.example', ttl: '10d' } },
    { profileId: 'lab', attributes: { commonName: 'c.lab.example', ttl: '10d' } },
  ])
  assert.deepEqual(results.map((r) => r.ok), [true, false, true])
  assert.equal(results[1].error.code, 'POLICY_VIOLATION')
  assert.ok(results[1].error.violations.length >= 1)
  const leaf = new crypto.X509Certificate(results[0].certificate.certificate)
  assert.equal(leaf.verify(new crypto.X509Certificate(issuing.certificate).publicKey), true)
  assert.equal((await cl.list({ profileId: profile.id })).length, 2)
})

test('a state directory persists, with a 0600 master key', async () => {
  await load
  const { dir, cleanup } = helpers.tempDir()
  try {
    const state = path.join(dir, 'state')
    const first = await Certloop.open(state)
    await first.initDefault()
    const issued = await first.issue({ attributes: { commonName: 'kept.example.com' } })
    assert.equal(fs.statSync(path.join(state, 'master.key')).mode & 0o777, 0o600)

    const again = await Certloop.open(state)
    assert.equal((await again.show(issued.certificateId)).commonName, 'kept.example.com')
    assert.equal((await again.initDefault()).created, false)
    const next = await again.issue({ attributes: { commonName: 'next.example.com' } })
    const leaf = new crypto.X509Certificate(next.certificate)
    assert.equal(leaf.verify(new crypto.X509Certificate(issued.issuingCaCertificate).publicKey), true, 'same CA after reopening')
  } finally {
    cleanup()
  }
})
