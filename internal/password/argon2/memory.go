package argon2

// Memory is working memory kept for key derivations to reuse, so that one
// need not allocate, zero and fault in its memory each time. Derivations
// that need more than a Memory holds allocate their own for the call, as
// IDKey does, and leave the Memory as it is: it is never grown, so one
// costly derivation does not keep its memory for good. A nil *Memory
// allocates every time. A Memory must not be used by two derivations at
// once.
//
// After a derivation m still holds its blocks, which derive from the
// password and salt, until the next one overwrites them.
type Memory struct {
	held []block
}

// NewMemory returns Memory for derivations of up to memory KiB.
func NewMemory(memory uint32) *Memory {
	return &Memory{held: make([]block, memory)}
}

// Size is how many KiB m holds.
func (m *Memory) Size() uint32 {
	if m == nil {
		return 0
	}
	return uint32(len(m.held))
}

// IDKey is [IDKey] computed in m.
func (m *Memory) IDKey(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	return deriveKeyIn(m, argon2id, password, salt, nil, nil, time, memory, threads, keyLen)
}

// Key is [Key] (Argon2i) computed in m.
func (m *Memory) Key(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	return deriveKeyIn(m, argon2i, password, salt, nil, nil, time, memory, threads, keyLen)
}

// blocks returns n blocks of m, or n new ones if m holds fewer. Whatever
// they hold is overwritten before it is read: initBlocks writes the first
// two blocks of each lane and the first pass of processBlocks every other.
func (m *Memory) blocks(n uint32) []block {
	if n > m.Size() {
		return make([]block, n)
	}
	return m.held[:n]
}
