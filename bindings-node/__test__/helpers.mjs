// Shared test helpers: the package under test, openssl, temporary directories.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A fresh temporary directory, removed by `cleanup()`. */
export function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'certloop-node-'))
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

/** Run openssl with `args`; returns stdout (throws with stderr on a non-zero exit). */
export function openssl(args, input) {
  return execFileSync('openssl', args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] })
}

/** Write `files` ({name: text}) into `dir` and return their paths by name. */
export function writeFiles(dir, files) {
  const paths = {}
  for (const [name, text] of Object.entries(files)) {
    paths[name] = join(dir, name)
    writeFileSync(paths[name], text)
  }
  return paths
}

/** The first PEM block of a bundle. */
export function firstPem(bundle) {
  const end = '-----END CERTIFICATE-----'
  return bundle.slice(0, bundle.indexOf(end) + end.length) + '\n'
}

/** Every PEM certificate block of a bundle. */
export function pemBlocks(bundle) {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? []
}

/** A free TCP port on 127.0.0.1 (bound once by the OS, then released). */
export async function freePort() {
  const { createServer } = await import('node:net')
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/** Resolve once 127.0.0.1:`port` accepts a connection; reject after `attempts` tries. */
export async function waitForPort(port, attempts = 100) {
  const { connect } = await import('node:net')
  for (let i = 0; i < attempts; i++) {
    const open = await new Promise((resolve) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (open) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${attempts} attempts`)
}

/**
 * `openssl s_server` on 127.0.0.1 serving `certFile` (the leaf) with `keyFile`, and the
 * certificates of `chainFile` after it when given; returns its endpoint and `stop()`, which
 * kills it and waits for it to exit.
 */
export async function startTlsServer(certFile, keyFile, chainFile) {
  const { spawn } = await import('node:child_process')
  const port = await freePort()
  const args = ['s_server', '-quiet', '-accept', `127.0.0.1:${port}`, '-cert', certFile, '-key', keyFile]
  if (chainFile) args.push('-cert_chain', chainFile)
  const server = spawn('openssl', args, {
    stdio: ['pipe', 'ignore', 'pipe'],
  })
  let stderr = ''
  server.stderr.on('data', (chunk) => (stderr += chunk))
  const exited = new Promise((resolve) => server.once('exit', resolve))
  const stop = async () => {
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGTERM')
    await exited
  }
  try {
    await Promise.race([
      waitForPort(port),
      exited.then((code) => {
        throw new Error(`openssl s_server exited (${code}): ${stderr}`)
      }),
    ])
  } catch (e) {
    await stop()
    throw e
  }
  return { endpoint: `127.0.0.1:${port}`, stop }
}
