// End to end through the binding: order from Pebble with manual HTTP-01 validation (pending,
// listed, the file published, resumed), then deploy to a real nginx on loopback with its
// config test, reload and pinning check. Needs the servers of scripts/stages/50-acme.sh (its
// CERTLOOP_ACME_* variables); skipped without them.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { test } from 'node:test'

import { Certloop } from 'certloop'

import { freePort, openssl, tempDir, waitForPort } from './helpers.mjs'

const env = process.env
const missing = ['CERTLOOP_ACME_DIRECTORY', 'CERTLOOP_ACME_TLS_ROOT', 'CERTLOOP_ACME_ROOT', 'CERTLOOP_ACME_WEBROOT'].filter((v) => !env[v])
const skip = missing.length > 0 ? `needs Pebble (scripts/stages/50-acme.sh): ${missing.join(', ')} unset` : false

/** nginx with its own prefix in `dir` serving tls/fullchain.pem on a free 127.0.0.1 port. */
async function startNginx(dir) {
  const port = await freePort()
  for (const sub of ['tls', 'logs', 'tmp']) mkdirSync(join(dir, sub), { recursive: true })
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=placeholder', '-keyout', join(dir, 'tls/key.pem'), '-out', join(dir, 'tls/fullchain.pem')])
  const conf = join(dir, 'nginx.conf')
  writeFileSync(conf, `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${dir}/tls/fullchain.pem;
    ssl_certificate_key ${dir}/tls/key.pem;
    location / { return 200 "ok\\n"; }
  }
}
`)
  const args = ['-p', dir, '-c', conf, '-e', join(dir, 'logs/error.log')]
  const server = spawn('nginx', [...args, '-g', 'daemon off;'], { stdio: 'ignore' })
  const exited = new Promise((resolve) => server.once('exit', resolve))
  const stop = async () => {
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGTERM')
    await exited
  }
  try {
    await waitForPort(port)
  } catch (e) {
    await stop()
    throw e
  }
  return { port, args, stop }
}

test('order from Pebble with manual validation, resume, deploy to nginx and pin-check it', { skip }, async () => {
  const cl = await Certloop.inMemory({ actor: 'node-e2e' })
  await cl.initDefault()
  await cl.saveProfile({
    slug: 'pebble',
    templateId: 'tls-server',
    issuer: { type: 'acme', directoryUrl: env.CERTLOOP_ACME_DIRECTORY, caRoots: env.CERTLOOP_ACME_TLS_ROOT, email: 'node@example.com', solver: { type: 'manual' } },
  })
  const name = `node-${process.pid}.certloop.test`
  const { dir, cleanup } = tempDir()
  let nginx
  try {
    // 1. The order waits for a person.
    let orderId
    await assert.rejects(cl.issue({ profileId: 'pebble', attributes: { commonName: name, altNames: [{ type: 'DNS', value: name }] }, manageKey: true }), (e) => {
      assert.equal(e.code, 'PENDING_VALIDATION', e.message)
      orderId = e.orderId
      return typeof e.orderId === 'string' && typeof e.instructions === 'string'
    })
    assert.ok((await cl.listOrders()).some((o) => o.id === orderId && o.status === 'pendingValidation'))
    assert.equal((await cl.acmeAccounts()).length, 1)
    const order = await cl.getOrder(orderId)
    assert.deepEqual(order.names, [name])
    // 2. The person publishes the file; 3. resume.
    for (const step of order.instructions.steps) {
      assert.equal(step.type, 'httpFile')
      const file = join(env.CERTLOOP_ACME_WEBROOT, step.path)
      mkdirSync(dirname(file), { recursive: true })
      writeFileSync(file, step.content)
    }
    const issued = await cl.resumeOrder(orderId)
    assert.equal((await cl.getOrder(orderId)).status, 'completed')
    writeFileSync(join(dir, 'leaf.pem'), issued.certificate)
    writeFileSync(join(dir, 'chain.pem'), issued.certificateChain)
    assert.match(openssl(['verify', '-CAfile', env.CERTLOOP_ACME_ROOT, '-untrusted', join(dir, 'chain.pem'), join(dir, 'leaf.pem')]), /leaf\.pem: OK/)

    // 4. Deploy to nginx: config test, reload, pinning check against what it serves.
    nginx = await startNginx(join(dir, 'nginx'))
    const endpoint = `127.0.0.1:${nginx.port}`
    await cl.saveTarget({
      name: 'nginx',
      type: 'nginx',
      certPath: join(dir, 'nginx/tls/fullchain.pem'),
      keyPath: join(dir, 'nginx/tls/key.pem'),
      testCommand: ['nginx', ...nginx.args, '-t', '-q'],
      reloadCommand: ['nginx', ...nginx.args, '-s', 'reload'],
      endpoint,
      serverName: name,
      pinAttempts: 40,
      pinIntervalMs: 250,
    })
    const report = await cl.deploy(issued.certificateId, 'nginx')
    assert.equal(report.success, true, JSON.stringify(report))
    assert.deepEqual(report.steps.map((s) => s.step), ['precheck', 'write', 'configTest', 'reload', 'pinCheck'])
    assert.equal(report.pin.matches, true)
    assert.equal((await cl.show(issued.certificateId)).state, 'deployed')
    const check = await cl.pinCheck(issued.certificateId, endpoint, name)
    assert.equal(check.matches, true)
    assert.equal(check.servedSha256, (await cl.show(issued.certificateId)).fingerprintSha256)
  } finally {
    await nginx?.stop()
    cleanup()
  }
})
