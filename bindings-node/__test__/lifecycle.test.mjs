// Managed certificates, bulk configure, actions and batches with a progress callback, and
// discovery (files, host, rediscovery) through the binding.
import assert from 'node:assert/strict'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

import { Certloop } from 'certloop'

import { openssl, tempDir } from './helpers.mjs'

/**
 * `count` managed certificates `m0`, `m1`, ..., each deployed by a rotation to its own nginx-type
 * file target in `dir` (no commands).
 */
async function withManaged(dir, count) {
  const cl = await Certloop.inMemory({ actor: 'node-lifecycle' })
  await cl.initDefault()
  const requests = []
  for (let i = 0; i < count; i++) {
    await cl.saveTarget({ name: `files-${i}`, type: 'nginx', certPath: join(dir, `m${i}.crt`), keyPath: join(dir, `m${i}.key`) })
    const issued = await cl.issue({ attributes: { commonName: `m${i}.example.internal` }, manageKey: true })
    requests.push({ name: `m${i}`, certificateId: issued.certificateId, config: { profile: 'tls-server', targets: [`files-${i}`] } })
  }
  const managed = await cl.manageMany(requests)
  return { cl, managed }
}

/** Run `body(dir)` with a fresh temporary directory. */
async function inTempDir(body) {
  const { dir, cleanup } = tempDir()
  try {
    return await body(dir)
  } finally {
    cleanup()
  }
}

test('manage, list, get and bulk configure managed certificates', () => inTempDir(async (dir) => {
  const { cl, managed } = await withManaged(dir, 3)
  assert.deepEqual(managed.map((m) => m.name), ['m0', 'm1', 'm2'])
  for (const m of managed) {
    assert.equal(m.state, 'managed')
    assert.equal(m.config.profile, 'tls-server')
    assert.equal(m.config.rollback, true)
    assert.equal(typeof m.nextCheckAt, 'string', 'renewal is scheduled')
  }
  assert.equal((await cl.getManaged('m1')).id, managed[1].id)
  assert.equal((await cl.getManaged(managed[2].id)).name, 'm2')
  assert.equal((await cl.listManaged()).length, 3)
  assert.deepEqual((await cl.listManaged({ certificateId: managed[0].certificateId })).map((m) => m.name), ['m0'])

  await assert.rejects(cl.manage({ certificateId: managed[0].certificateId, config: { profile: 'tls-server' } }), (e) => e.code === 'ALREADY_EXISTS')
  await assert.rejects(cl.manage({ config: { profile: 'tls-server', bogus: 1 } }), (e) => e.code === 'INVALID_INPUT' && e.field === 'request.config.bogus')
  await assert.rejects(cl.getManaged('nope'), (e) => e.code === 'NOT_FOUND')

  const configured = await cl.bulkConfigure(['m0', managed[1].id], { rollback: false, validity: '30d' })
  assert.deepEqual(configured.map((m) => [m.name, m.config.rollback, m.config.validity]), [['m0', false, '30d'], ['m1', false, '30d']])
  assert.equal((await cl.getManaged('m2')).config.rollback, true, 'm2 was not in the batch')
  await assert.rejects(cl.bulkConfigure(['m0'], {}), (e) => e.code === 'INVALID_INPUT' && e.field === 'patch')
  await assert.rejects(cl.bulkConfigure(['m0', 'nope'], { rollback: true }), (e) => e.code === 'NOT_FOUND')
  assert.equal((await cl.getManaged('m0')).config.rollback, false, 'all or none')
}))

test('act runs one action and rejects when it fails', () => inTempDir(async (dir) => {
  const { cl, managed } = await withManaged(dir, 1)
  const before = managed[0].certificateId
  const rotated = await cl.act('m0', { action: 'rotate' })
  assert.equal(typeof rotated.detail, 'string')
  assert.notEqual(rotated.managed.certificateId, before, 'a new certificate is in service')
  assert.equal((await cl.show(before)).renewedBy, rotated.managed.certificateId)
  assert.equal(rotated.managed.state, 'deployed')
  assert.equal(fingerprintOf(join(dir, 'm0.crt')), (await cl.show(rotated.managed.certificateId)).fingerprintSha256)

  const suspended = await cl.act('m0', { action: 'suspend' })
  assert.equal(suspended.managed.state, 'suspended')
  assert.deepEqual((await cl.listManaged({ states: ['suspended'] })).map((m) => m.name), ['m0'])
  await assert.rejects(cl.act('m0', { action: 'explode' }), (e) => e.code === 'INVALID_INPUT' && e.field === 'action.action' && !e.message.includes('explode'))
}))

test('batch reports each item and calls progress from the worker before it resolves', () => inTempDir(async (dir) => {
  const { cl, managed } = await withManaged(dir, 3)
  const calls = []
  const report = await cl.batch(
    [managed[0].id, 'm1', managed[2].id, 'no-such-certificate'],
    { action: 'rotate' },
    { concurrency: 2 },
    (done, total) => calls.push([done, total]),
  )
  assert.equal(report.action, 'rotate')
  assert.deepEqual([report.total, report.succeeded, report.failed, report.skipped], [4, 3, 1, 0])
  assert.deepEqual(report.items.map((i) => i.ok), [true, true, true, false])
  assert.equal(report.items[3].id, 'no-such-certificate')
  assert.equal(typeof report.items[3].errorCode, 'string')
  // One call once the ids are looked up (the unknown one is done then), one per item after.
  assert.deepEqual(calls, [[1, 4], [2, 4], [3, 4], [4, 4]])
  for (const m of managed) {
    const now = await cl.getManaged(m.id)
    assert.notEqual(now.certificateId, m.certificateId, `${m.name} rotated`)
    assert.equal(fingerprintOf(join(dir, `${m.name}.crt`)), (await cl.show(now.certificateId)).fingerprintSha256, `${m.name} deployed`)
  }

  // A callback that throws does not fail the batch; none at all is fine too.
  let thrown = 0
  const again = await cl.batch(['m0', 'm1'], { action: 'pinCheck' }, null, () => {
    thrown++
    throw new Error('progress callback failure')
  })
  assert.equal(again.total, 2)
  assert.equal(thrown, 2) // (1, 2), (2, 2)
  const quiet = await cl.batch(['m2'], { action: 'suspend' })
  assert.deepEqual([quiet.succeeded, quiet.items[0].state], [1, 'suspended'])

  await assert.rejects(cl.batch(['m0'], { action: 'rotate' }, null, 42), (e) => e.code === 'INVALID_INPUT' && e.field === 'progress')
  await assert.rejects(cl.batch('m0', { action: 'rotate' }), (e) => e.code === 'INVALID_INPUT' && e.field === 'ids')
}))

test('sweep orders what is due and deploys it; nextDueAt says when to wake', () => inTempDir(async (dir) => {
  const cl = await Certloop.inMemory()
  await cl.initDefault()
  assert.equal(await cl.nextDueAt(), null, 'nothing managed, nothing due')
  await cl.saveTarget({ name: 'fresh-files', type: 'nginx', certPath: join(dir, 'fresh.crt'), keyPath: join(dir, 'fresh.key') })
  const altNames = [{ type: 'DNS', value: 'fresh.example.internal' }]
  // `deployment: {}`: deploy immediately (an absent `deployment` section reads as disabled).
  const config = { profile: 'tls-server', targets: ['fresh-files'], csr: { mode: 'fullOverride', commonName: 'fresh.example.internal', altNames }, deployment: {} }
  const fresh = await cl.manage({ name: 'fresh', config })
  assert.equal(fresh.certificateId, undefined, 'nothing is issued before the first sweep')
  const due = await cl.nextDueAt()
  assert.ok(Date.parse(due) <= Date.now(), `due now, got ${due}`)

  const report = await cl.sweep({ owner: 'node-test', concurrency: 1 })
  assert.deepEqual([report.processed, report.renewed, report.deployed, report.failed], [1, 1, 1, 0])
  const after = await cl.getManaged('fresh')
  assert.equal(after.state, 'deployed')
  assert.equal(fingerprintOf(join(dir, 'fresh.crt')), (await cl.show(after.certificateId)).fingerprintSha256)
  assert.ok(Date.parse(await cl.nextDueAt()) > Date.now(), 'the next check is in the future')
  assert.equal((await cl.sweep()).processed, 0, 'a second sweep finds nothing due')
  assert.equal(await cl.count({ san: 'fresh.example.internal' }), 1)
  await assert.rejects(cl.sweep({ lease: 10 }), (e) => e.code === 'INVALID_INPUT' && e.field === 'options.lease')
}))

test('scriptRoot confines script CA profiles to one directory', () => inTempDir(async (dir) => {
  const root = join(dir, 'scripts')
  mkdirSync(root)
  writeFileSync(join(root, 'corp_ca.py'), 'def certificate_request(csr, common_name, args_dict):\n    raise RuntimeError("not used")\n')
  writeFileSync(join(dir, 'outside.py'), 'def certificate_request(csr, common_name, args_dict):\n    raise RuntimeError("not used")\n')
  const cl = await Certloop.inMemory({ scriptRoot: root })
  await cl.initDefault()
  const profile = (path) => ({ slug: 'corp', templateId: 'tls-server', issuer: { type: 'script', path, params: [{ name: 'token', value: 'script-s3cret', sensitive: true }] } })
  const saved = await cl.saveProfile(profile(join(root, 'corp_ca.py')))
  assert.equal(saved.issuer.type, 'script')
  assert.ok(!JSON.stringify(saved).includes('script-s3cret'), 'a sensitive parameter is not returned')
  await assert.rejects(cl.saveProfile(profile(join(dir, 'outside.py'))), (e) => e.code === 'INVALID_INPUT' && !e.message.includes('script-s3cret'))
  await assert.rejects(Certloop.inMemory({ scriptRoot: join(dir, 'missing') }), (e) => e.code === 'IO_ERROR')
}))

/** SHA-256 fingerprint of the first certificate in `file`, as openssl computes it. */
function fingerprintOf(file) {
  const out = openssl(['x509', '-in', file, '-noout', '-fingerprint', '-sha256'])
  return out.trim().split('=')[1].replaceAll(':', '').toLowerCase()
}

/** A self-signed certificate made by openssl (not by certloop), PEM. */
function outsideCertificate(dir, cn) {
  const key = join(dir, `${cn}.key.tmp`)
  const pem = openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-subj', `/CN=${cn}`, '-days', '30'])
  rmSync(key)
  return pem
}

test('discoverFiles records what a directory holds; rediscover reports changed and gone files', async () => {
  const cl = await Certloop.inMemory()
  await cl.initDefault()
  const issued = await cl.issue({ attributes: { commonName: 'known.example.internal' } })
  const { dir, cleanup } = tempDir()
  try {
    const scanned = join(dir, 'scan')
    mkdirSync(join(scanned, 'nested'), { recursive: true })
    writeFileSync(join(scanned, 'known.pem'), issued.certificate)
    writeFileSync(join(scanned, 'nested', 'outside.pem'), outsideCertificate(dir, 'outside.example.internal'))
    await cl.writeKeystore(issued, { format: 'pkcs12', path: join(scanned, 'ks.p12') })
    writeFileSync(join(scanned, 'notes.txt'), 'not a certificate\n')

    const first = await cl.discoverFiles({ roots: [scanned] })
    assert.ok(first.examined >= 4, `examined ${first.examined}`)
    assert.equal(first.newCertificates, 1)
    const byFile = Object.fromEntries(first.items.map((i) => [i.location.path.slice(scanned.length + 1), i]))
    assert.deepEqual(Object.keys(byFile).sort(), ['known.pem', 'ks.p12', 'nested/outside.pem'])
    assert.equal(byFile['known.pem'].certificateId, issued.certificateId)
    assert.equal(byFile['known.pem'].state, 'issued')
    assert.equal(byFile['known.pem'].newCertificate, false)
    assert.equal(byFile['ks.p12'].location.format, 'pkcs12')
    assert.equal(byFile['ks.p12'].certificateId, issued.certificateId)
    const outside = byFile['nested/outside.pem']
    assert.equal(outside.state, 'discovered')
    assert.equal(outside.commonName, 'outside.example.internal')
    assert.equal(outside.newCertificate, true)
    assert.equal((await cl.show(outside.certificateId)).state, 'discovered')

    const second = await cl.discoverFiles({ roots: [scanned] })
    assert.deepEqual([second.newCertificates, second.newLocations, second.items.length], [0, 0, 3], 'the same scan adds nothing')
    assert.equal((await cl.discoveredLocations()).length, 3)
    assert.equal((await cl.discoverFiles({ roots: [scanned], maxDepth: 1 })).items.length, 2, 'maxDepth 1 reads the root only')

    const unchanged = await cl.rediscover()
    assert.deepEqual([unchanged.checked, unchanged.unchanged, unchanged.drifts.length], [3, 3, 0])

    writeFileSync(join(scanned, 'nested', 'outside.pem'), outsideCertificate(dir, 'replaced.example.internal'))
    rmSync(join(scanned, 'known.pem'))
    const drifted = await cl.rediscover()
    assert.equal(drifted.checked, 3)
    assert.equal(drifted.unchanged, 1)
    const drifts = Object.fromEntries(drifted.drifts.map((d) => [d.location.path.slice(scanned.length + 1), d]))
    assert.equal(drifts['nested/outside.pem'].kind, 'changed')
    assert.equal(drifts['nested/outside.pem'].expectedSha256, outside.fingerprintSha256)
    assert.notEqual(drifts['nested/outside.pem'].foundSha256, outside.fingerprintSha256)
    assert.equal(drifts['known.pem'].kind, 'gone')
    assert.ok((await cl.auditLog()).some((e) => e.action === 'driftDetected'))

    await assert.rejects(cl.discoverFiles({ roots: [scanned], depth: 2 }), (e) => e.code === 'INVALID_INPUT' && e.field === 'options.depth')
  } finally {
    cleanup()
  }
})

test('discoverFiles opens PKCS#12 files with the given passwords and returns none of them', async () => {
  const cl = await Certloop.inMemory()
  await cl.initDefault()
  const issued = await cl.issue({ attributes: { commonName: 'locked.example.internal' } })
  const { dir, cleanup } = tempDir()
  try {
    await cl.writeKeystore(issued, { format: 'pkcs12', path: join(dir, 'locked.p12'), password: 'disc-s3cret' })
    const without = await cl.discoverFiles({ roots: [dir] })
    assert.equal(without.items.length, 0)
    assert.ok(without.problems.length >= 1, 'the locked file is reported')
    const withPassword = await cl.discoverFiles({ roots: [dir], passwords: ['wrong', 'disc-s3cret'] })
    assert.deepEqual(withPassword.items.map((i) => i.certificateId), [issued.certificateId])
    assert.ok(!JSON.stringify([without, withPassword, await cl.discoveredLocations()]).includes('disc-s3cret'))
    // A password in the wrong shape is refused without being repeated.
    await assert.rejects(cl.discoverFiles({ roots: [dir], passwords: 'disc-s3cret' }), (e) => {
      assert.equal(e.code, 'INVALID_INPUT')
      assert.match(e.message, /invalid type, expected a sequence/)
      return !e.message.includes('disc-s3cret')
    })
    await assert.rejects(cl.writeKeystore(issued, { format: 'pkcs12', path: join(dir, 'n.p12'), password: 918273 }), (e) => e.code === 'INVALID_INPUT' && !e.message.includes('918273'))
  } finally {
    cleanup()
  }
})

test('discoverHost reads a proc tree and finds no servers in an empty one', async () => {
  const cl = await Certloop.inMemory()
  const { dir, cleanup } = tempDir()
  try {
    const outcome = await cl.discoverHost({ procRoot: dir })
    assert.deepEqual([outcome.items.length, outcome.newCertificates], [0, 0])
    await assert.rejects(cl.discoverHost({ procroot: dir }), (e) => e.code === 'INVALID_INPUT')
  } finally {
    cleanup()
  }
})
