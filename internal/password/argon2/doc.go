// This package is a copy of golang.org/x/crypto/argon2 at v0.58.0, changed
// only so that pforte can derive keys in reused memory instead of
// allocating, zeroing and faulting in the whole memory cost (19 MiB at
// pforte's defaults) for every password hash:
//
//   - memory.go (new): Memory, working memory kept between derivations,
//     and Memory.IDKey, IDKey computed in it. A derivation that needs more
//     than a Memory holds allocates for itself and leaves the Memory as it
//     is, so one costly derivation does not keep its memory for good.
//   - argon2.go: deriveKey is now deriveKeyIn, which takes the Memory
//     (nil: allocate, as before) and passes it to initBlocks; deriveKey
//     calls it with nil, so Key, IDKey and the tests are unchanged.
//   - argon2.go: processBlocks overwrites each block in the first pass
//     instead of XORing into it, as the reference implementation of
//     version 0x13 does. Keys are the same for zeroed memory, and memory
//     that holds anything else no longer changes them, so reused memory
//     needs no zeroing. memory_test.go checks this against x/crypto with
//     memory filled with random bytes and with earlier derivations.
//   - argon2.go: with one lane (parallelism 1) the segments run on the
//     caller's goroutine instead of a new one each, so on the caller's
//     thread: pforte hashes on threads of lowered priority.
//   - blamka_generic.go: a lint:ignore line for staticcheck, which sees
//     processBlockGeneric unused on amd64.
package argon2
