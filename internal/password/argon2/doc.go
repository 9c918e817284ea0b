// This package is a copy of golang.org/x/crypto/argon2 at v0.58.0, changed
// only so that pforte can derive keys in reused memory:
//
//   - processBlocks overwrites each block in the first pass instead of
//     XORing into it, as the reference implementation of version 0x13
//     does. The result is the same for zeroed memory, and memory that
//     holds anything else no longer changes it, so reused memory needs no
//     zeroing.
//   - blamka_generic.go: a lint:ignore line for staticcheck, which sees
//     processBlockGeneric unused on amd64.
package argon2
