// A worker thread of `mintInWorkers`: signs its share of tokens and sends them back joined by
// newlines (one string crosses threads much faster than an array of a hundred thousand).
import { parentPort } from 'node:worker_threads'
import { mintTokens, type MintOptions } from './tokens.ts'

parentPort!.once('message', (options: MintOptions) => {
  parentPort!.postMessage(mintTokens(options).join('\n'))
})
