// Type-checked (tsc --noEmit) by scripts/stages/20-node.sh: proves index.d.ts is usable.
import {
  Certloop,
  inspectCertificateSync,
  type BatchReport,
  type CertloopError,
  type DeployReport,
  type DeployTarget,
  type IssueRequest,
  type IssuedCertificate,
} from 'certloop'

async function main(): Promise<void> {
  const cl: Certloop = await Certloop.inMemory({ actor: 'example' })
  const setup = await cl.initDefault()
  const request: IssueRequest = {
    attributes: { commonName: 'app.example.com', altNames: [{ type: 'DNS', value: 'app.example.com' }], ttl: '90d' },
  }
  const issued: IssuedCertificate = await cl.issue(request)
  const info = inspectCertificateSync(issued.certificate)
  const notAfter: string = info.notAfter
  const records = await cl.list({ states: ['issued'], limit: 10 })
  const revoked = await cl.revoke(records[0].certificateId, 'superseded')
  const crl = await cl.crl(setup.issuingCa.name)
  const crlNumber: number = crl.crlNumber
  try {
    await cl.show('missing')
  } catch (e) {
    const error = e as CertloopError
    if (error.code === 'NOT_FOUND') console.log(error.message)
    for (const v of error.violations ?? []) console.log(v.field, v.message)
  }
  console.log(notAfter, revoked.state, crlNumber, issued.privateKey?.length)

  // Keystores, targets, deployment, pinning, managed certificates, batches, discovery.
  const paths: string[] = await cl.writeKeystore(issued, { format: 'pkcs12', path: '/tmp/example.p12', password: 'changeit' })
  const target: DeployTarget = await cl.saveTarget({ name: 'web', type: 'nginx', certPath: '/tmp/web.crt', keyPath: '/tmp/web.key', reloadCommand: ['nginx', '-s', 'reload'] })
  const report: DeployReport = await cl.deployWithReport(issued.certificateId, target.name, true)
  if (!report.success) console.log(report.failedStep, report.rolledBack)
  const pin = await cl.pinCheck(issued.certificateId, '127.0.0.1:8443', 'app.example.com')
  const managed = await cl.manage({ certificateId: issued.certificateId, config: { profile: 'tls-server', targets: ['web'], renewal: { trigger: { type: 'daysBeforeExpiry', days: 20 } } } })
  await cl.bulkConfigure([managed.id], { rollback: false })
  const batch: BatchReport = await cl.batch([managed.id], { action: 'rekey', keyAlgorithm: 'EC_secp384r1' }, { concurrency: 2 }, (done, total) => console.log(`${done}/${total}`))
  const found = await cl.discoverFiles({ roots: ['/etc/ssl'], passwords: ['changeit'] })
  const drift = await cl.rediscover()
  const orders = await cl.listOrders()
  cl.registerCa('corp', async (csr, commonName, args) => (commonName && args.token ? csr : null), { params: [{ name: 'token', value: 't', sensitive: true }], timeoutSeconds: 10 })
  const swept = await cl.sweep({ owner: 'example' })
  console.log(swept.renewed, await cl.nextDueAt())
  try {
    await cl.deploy(issued.certificateId, 'web')
  } catch (e) {
    const error = e as CertloopError
    if (error.code === 'DEPLOYMENT_FAILED') console.log(error.target, error.rolledBack)
  }
  console.log(paths, pin.matches, batch.succeeded, found.newCertificates, drift.drifts.length, orders.length)
}

void main()
