// Type-checked (tsc --noEmit) by scripts/stages/20-node.sh: proves index.d.ts is usable.
import { Certloop, inspectCertificateSync, type CertloopError, type IssueRequest, type IssuedCertificate } from 'certloop'

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
}

void main()
