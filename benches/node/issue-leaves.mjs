// Issue N TLS leaves, each with a fresh key, signed by a CA, from Node: certloop (napi addon)
// versus @peculiar/x509 on Node's WebCrypto versus node-forge (pure JS). Not a test: prints a
// table of leaves per second and ratios measured in this one run. Build the addon in release
// mode first (`npm run build:release` in bindings-node), then `npm install && node
// issue-leaves.mjs [N]`.
//
// node-forge cannot create ECDSA keys or certificates (RSA only), so its rows are RSA-2048 and
// are compared with certloop issuing RSA-2048 leaves.
import { webcrypto } from 'node:crypto'
import { createRequire } from 'node:module'

import 'reflect-metadata' // @peculiar/x509's dependency injection (tsyringe) needs it
import * as x509 from '@peculiar/x509'

const require = createRequire(import.meta.url)
const forge = require('node-forge')
const { Certloop } = require('certloop')

const N = Number(process.argv[2] ?? 500)
const N_RSA = Math.max(10, Math.floor(N / 50))
const DAY = 86400e3

async function time(label, count, run) {
  const start = process.hrtime.bigint()
  const made = await run()
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  if (made !== count) throw new Error(`${label}: made ${made} of ${count}`)
  return { label, count, seconds, perSecond: count / seconds }
}

// ---- certloop -------------------------------------------------------------------------------

async function certloopRun(count, keyAlgorithm, mode) {
  const cl = await Certloop.inMemory()
  await cl.initDefault()
  const request = (i) => ({
    attributes: { commonName: `host${i}.example.com`, keyAlgorithm, ttl: '90d' },
  })
  return async () => {
    if (mode === 'sequential') {
      for (let i = 0; i < count; i++) await cl.issue(request(i))
      return count
    }
    if (mode === 'concurrent') {
      const all = await Promise.all(Array.from({ length: count }, (_, i) => cl.issue(request(i))))
      return all.length
    }
    const results = await cl.issueMany(Array.from({ length: count }, (_, i) => request(i)))
    return results.filter((r) => r.ok).length
  }
}

// ---- @peculiar/x509 on WebCrypto ------------------------------------------------------------

async function peculiarRun(count, concurrent) {
  x509.cryptoProvider.set(webcrypto)
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
  const caKeys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=bench CA',
    notBefore: new Date(),
    notAfter: new Date(Date.now() + 3650 * DAY),
    signingAlgorithm: alg,
    keys: caKeys,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
  })
  const one = async (i) => {
    const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])
    const serial = Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1')
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial,
      subject: `CN=host${i}.example.com`,
      issuer: ca.subject,
      notBefore: new Date(),
      notAfter: new Date(Date.now() + 90 * DAY),
      signingAlgorithm: alg,
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: `host${i}.example.com` }]),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(ca),
      ],
    })
    const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)
    return cert.toString('pem').length + pkcs8.byteLength
  }
  return async () => {
    if (concurrent) return (await Promise.all(Array.from({ length: count }, (_, i) => one(i)))).length
    for (let i = 0; i < count; i++) await one(i)
    return count
  }
}

// ---- node-forge (RSA only) ------------------------------------------------------------------

function forgeRun(count) {
  const pki = forge.pki
  const caKeys = pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 })
  const ca = pki.createCertificate()
  ca.publicKey = caKeys.publicKey
  ca.serialNumber = '01'
  ca.validity.notBefore = new Date()
  ca.validity.notAfter = new Date(Date.now() + 3650 * DAY)
  ca.setSubject([{ name: 'commonName', value: 'bench CA' }])
  ca.setIssuer(ca.subject.attributes)
  ca.setExtensions([{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true }])
  ca.sign(caKeys.privateKey, forge.md.sha256.create())
  return async () => {
    for (let i = 0; i < count; i++) {
      const keys = pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 })
      const cert = pki.createCertificate()
      cert.publicKey = keys.publicKey
      cert.serialNumber = '1' + forge.util.bytesToHex(forge.random.getBytesSync(15))
      cert.validity.notBefore = new Date()
      cert.validity.notAfter = new Date(Date.now() + 90 * DAY)
      cert.setSubject([{ name: 'commonName', value: `host${i}.example.com` }])
      cert.setIssuer(ca.subject.attributes)
      cert.setExtensions([
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 2, value: `host${i}.example.com` }] },
      ])
      cert.sign(caKeys.privateKey, forge.md.sha256.create())
      pki.certificateToPem(cert)
      pki.privateKeyToPem(keys.privateKey)
    }
    return count
  }
}

// ---- run ------------------------------------------------------------------------------------

const rows = []
// Warm up each path once (JIT, thread pool start, CA cache).
await (await certloopRun(20, 'EC_prime256v1', 'concurrent'))()
await (await peculiarRun(20, true))()

rows.push(await time('certloop issue() sequential, P-256', N, await certloopRun(N, 'EC_prime256v1', 'sequential')))
rows.push(await time('certloop issue() concurrent, P-256', N, await certloopRun(N, 'EC_prime256v1', 'concurrent')))
rows.push(await time('certloop issueMany(), P-256', N, await certloopRun(N, 'EC_prime256v1', 'many')))
rows.push(await time('@peculiar/x509 + WebCrypto sequential, P-256', N, await peculiarRun(N, false)))
rows.push(await time('@peculiar/x509 + WebCrypto concurrent, P-256', N, await peculiarRun(N, true)))
rows.push(await time('certloop issue() concurrent, RSA-2048', N_RSA, await certloopRun(N_RSA, 'RSA_2048', 'concurrent')))
rows.push(await time('node-forge sequential, RSA-2048', N_RSA, forgeRun(N_RSA)))

const by = (label) => rows.find((r) => r.label === label).perSecond
console.log(`node ${process.version}, ${N} P-256 leaves (${N_RSA} RSA-2048), fresh key each`)
console.log('| run | leaves | seconds | leaves/s |')
console.log('|---|---:|---:|---:|')
for (const r of rows) console.log(`| ${r.label} | ${r.count} | ${r.seconds.toFixed(2)} | ${r.perSecond.toFixed(0)} |`)
const ratio = (a, b) => (by(a) / by(b)).toFixed(1)
console.log()
console.log(`certloop concurrent / @peculiar concurrent (P-256): ${ratio('certloop issue() concurrent, P-256', '@peculiar/x509 + WebCrypto concurrent, P-256')}x`)
console.log(`certloop sequential / @peculiar sequential (P-256): ${ratio('certloop issue() sequential, P-256', '@peculiar/x509 + WebCrypto sequential, P-256')}x`)
console.log(`certloop concurrent / certloop sequential (P-256): ${ratio('certloop issue() concurrent, P-256', 'certloop issue() sequential, P-256')}x`)
console.log(`certloop RSA-2048 concurrent / node-forge RSA-2048: ${ratio('certloop issue() concurrent, RSA-2048', 'node-forge sequential, RSA-2048')}x`)
