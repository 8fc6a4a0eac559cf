// The verified-token cache: bounded, and what is used stays.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { AccessTokenClaims } from '../src/index.ts'
import { createTokenCache } from '../src/token-cache.ts'

const c = (jti: string) => ({ jti }) as unknown as AccessTokenClaims

describe('token cache', () => {
  test('never holds more than its size', () => {
    for (const max of [1, 2, 3, 10, 101]) {
      const cache = createTokenCache(max)
      for (let i = 0; i < 1000; i++) {
        cache.set(`t${i}`, c(`${i}`), 0)
        assert.ok(cache.size <= max, `size ${cache.size} > ${max}`)
      }
    }
  })

  test('0 disables it', () => {
    const cache = createTokenCache(0)
    cache.set('a', c('a'), 0)
    assert.equal(cache.get('a'), undefined)
    assert.equal(cache.size, 0)
  })

  test('an entry in use survives a stream of new ones; an idle one goes', () => {
    const cache = createTokenCache(10)
    const hot = c('hot')
    cache.set('hot', hot, 0)
    cache.set('idle', c('idle'), 0)
    for (let i = 0; i < 100; i++) {
      cache.set(`t${i}`, c(`${i}`), 0)
      assert.equal(cache.get('hot')?.claims, hot)
    }
    assert.equal(cache.get('idle'), undefined)
  })

  test('delete and clear', () => {
    const cache = createTokenCache(10)
    cache.set('a', c('a'), 0)
    cache.set('b', c('b'), 0)
    cache.delete('a')
    assert.equal(cache.get('a'), undefined)
    assert.equal(cache.size, 1)
    cache.clear()
    assert.equal(cache.size, 0)
  })
})

describe('token cache keys', () => {
  test('tokens sharing their last 16 characters never hit each other', () => {
    const cache = createTokenCache(10)
    const tail = 'x'.repeat(16)
    const a = c('a')
    cache.set(`aaaa.${tail}`, a, 0)
    assert.equal(cache.get(`bbbb.${tail}`), undefined)
    assert.equal(cache.get(`aaaa.${tail}`)?.claims, a)
    cache.delete(`bbbb.${tail}`)
    assert.equal(
      cache.get(`aaaa.${tail}`)?.claims,
      a,
      'deleting another token with the same key keeps this one',
    )
    const b = c('b')
    cache.set(`bbbb.${tail}`, b, 0)
    assert.equal(cache.get(`bbbb.${tail}`)?.claims, b)
    assert.equal(cache.get(`aaaa.${tail}`), undefined, 'the newer token took the slot')
    assert.equal(cache.size, 1)
  })

  test('short tokens work too', () => {
    const cache = createTokenCache(10)
    cache.set('abc', c('abc'), 0)
    assert.equal(cache.get('abc')?.claims.jti, 'abc')
    assert.equal(cache.get('bc'), undefined)
  })
})
