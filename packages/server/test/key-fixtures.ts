/**
 * Test fixture: the documented rotation of TOKENBOOTH_SECRET, halfway. The store's active key is
 * sealed under `oldSecret`; a manager holding `newSecret, oldSecret` (the new secret first, so it
 * seals) rotates in the next key. What each test then starts with one secret or the other is the
 * case under test.
 */
import type { Config } from '../src/config.ts'
import { createKeyManager, type KeyManager } from '../src/domain/keys.ts'
import { createKeyring } from '../src/domain/keyring.ts'
import type { Store } from '../src/store/store.ts'

export async function rotateToNewSecret(options: {
  store: Store
  config: Config
  clock: () => number
  oldSecret: string
  newSecret: string
}): Promise<{ firstKid: string; next: Awaited<ReturnType<KeyManager['rotate']>> }> {
  const { store, config, clock, oldSecret, newSecret } = options
  const owner = await createKeyManager({
    store,
    keyring: createKeyring([oldSecret]),
    config,
    clock,
  })
  owner.close()
  const firstKid = owner.signer().kid
  const rotator = await createKeyManager({
    store,
    keyring: createKeyring([newSecret, oldSecret]),
    config,
    clock,
  })
  rotator.close()
  return { firstKid, next: await rotator.rotate() }
}
