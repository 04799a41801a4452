// Concurrency: many issue() calls in flight at once all succeed with distinct certificates, and
// the event loop keeps turning while they run (the work happens on libuv's thread pool).
'use strict'
const assert = require('node:assert/strict')
const { test } = require('node:test')
const crypto = require('node:crypto')

const { Certloop, generateKey } = require('certloop')

test('64 concurrent issue() calls: distinct, valid, all in the inventory', async () => {
  const cl = await Certloop.inMemory()
  const { issuingCa } = await cl.initDefault()
  const issuer = new crypto.X509Certificate(issuingCa.certificate)
  const names = Array.from({ length: 64 }, (_, i) => `host${i}.example.com`)
  const issued = await Promise.all(names.map((commonName) => cl.issue({ attributes: { commonName } })))
  assert.equal(new Set(issued.map((c) => c.serialNumber)).size, 64)
  assert.equal(new Set(issued.map((c) => c.certificateId)).size, 64)
  issued.forEach((c, i) => {
    const leaf = new crypto.X509Certificate(c.certificate)
    assert.equal(leaf.verify(issuer.publicKey), true)
    assert.equal(leaf.checkHost(names[i]), names[i], 'each promise resolves to its own request')
  })
  assert.equal((await cl.list()).length, 64)
})

test('the event loop keeps ticking while certificates are issued', async () => {
  const cl = await Certloop.inMemory()
  await cl.initDefault()
  // RSA key generation is the slowest thing certloop does: if any of it ran on the JS thread,
  // the loop below could not run until it was over.
  let settled = 0
  const work = [
    ...Array.from({ length: 4 }, () => generateKey('RSA_2048')),
    ...Array.from({ length: 100 }, (_, i) => cl.issue({ attributes: { commonName: `tick${i}.example.com` } })),
  ].map((p) => p.then(() => { settled += 1 }))
  const all = Promise.all(work)
  let ticks = 0
  let ticksBeforeFirstSettled = null
  const deadline = Date.now() + 120_000 // bounded: never loop forever
  while (settled < work.length && Date.now() < deadline) {
    await new Promise((resolve) => setImmediate(resolve))
    ticks += 1
    if (settled > 0 && ticksBeforeFirstSettled === null) ticksBeforeFirstSettled = ticks
  }
  await all
  assert.equal(settled, work.length)
  assert.ok(ticksBeforeFirstSettled !== null && ticksBeforeFirstSettled >= 1, 'the loop turned before the first result')
  assert.ok(ticks >= 20, `the loop turned ${ticks} times while ${work.length} operations ran`)
})
