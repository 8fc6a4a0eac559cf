/**
 * The protected headers of tokens that verified recently, so that a token whose header segment is
 * one of them skips decoding and policing its header again. An issuer signs every token of a key
 * with the same header bytes (`{"alg","kid","typ"}`), so a service sees a handful of distinct
 * header segments, and decoding one (base64url, UTF-8, JSON, the checks) costs about as much as
 * everything else a verify adds to the signature check (see BENCHMARKS.md, "Verifier").
 *
 * What is remembered is only what follows from the header bytes alone: that the segment is
 * canonical base64url of a JSON object with no forbidden member, a supported `alg` and a well-formed
 * `kid`, and its `typ`. Everything that depends on the caller is still checked on every token:
 * `typ` against the expected one, the `kid` looked up in the caller's key set, `alg` against the
 * key's pinned algorithm. So the list can be shared by every verifier in the process. A header is
 * only remembered after a token bearing it passed every check (signature included), so a client
 * without a valid token cannot fill the list; if it could, verification would only get slower.
 *
 * @module
 */

/** The parts of a verified header that a later token with the same header segment reuses. */
export interface KnownHeader {
  /** The header segment followed by its dot: a token starting with it has this exact header. */
  readonly prefix: string
  readonly alg: string
  readonly kid: string
  /** The header's `typ`, normalized (lower case, no `application/` prefix). */
  readonly typ: string
}

// A booth publishes two or three keys at a time; a few issuers or algorithms more still fit, and
// a miss walks the whole list, so it stays short
const MAX_KNOWN = 8
const known: KnownHeader[] = []

/**
 * The remembered header that `token` starts with, or undefined. A prefix comparison, not a map
 * lookup: hashing a header segment taken fresh from a request costs more than comparing it.
 */
export function findKnownHeader(token: string): KnownHeader | undefined {
  for (let i = 0; i < known.length; i++) {
    const header = known[i]!
    if (token.startsWith(header.prefix)) return header
  }
  return undefined
}

/** Remembers the header of a token that has just passed every check; the newest goes first. */
export function rememberHeader(header: KnownHeader): void {
  if (findKnownHeader(header.prefix) !== undefined) return
  known.unshift(header)
  if (known.length > MAX_KNOWN) known.pop()
}
