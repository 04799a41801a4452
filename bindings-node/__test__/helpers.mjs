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
