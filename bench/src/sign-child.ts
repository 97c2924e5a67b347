/** Child process: signs a slice of a token pool (an RSA signature costs ~0.5 ms, so big pools are split). */
import { createPrivateKey } from 'node:crypto'
import { type Algorithm, signTokens } from './tokens.js'

interface Job {
  readonly alg: Algorithm
  readonly signPem: string
  readonly first: number
  readonly count: number
  readonly nowSeconds: number
}

process.once('message', (job: Job) => {
  const signKey = createPrivateKey(job.signPem)
  const material = { alg: job.alg, signKey, verifyKey: signKey, verifyPem: '', signPem: '' }
  process.send?.(signTokens(material, job.count, job.first, job.nowSeconds), () => process.exit(0))
})
