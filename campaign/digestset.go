package campaign

import (
	"encoding/binary"
	"math/bits"

	"github.com/mailer-dev/mailer/suppress"
)

// digest is a fixed-size stand-in for a key in the sets that grow with the
// list; 128 bits make a collision as good as impossible for any real list.
type digest [16]byte

// digestOf is the digest of an address key (address.Key).
// It is suppress.Digest, so a row's digest also looks it up in a
// suppress.Set.
func digestOf(key string) digest { return suppress.Digest(key) }

// digestSet maps address digests to the list line where each was first
// seen: the duplicate check, the one thing that grows with the list. It is
// an open-addressing table of 20-byte entries in one pointer-free slice,
// sized from the row count that ScanList found, so a 1,000,000-row list
// costs 25 MB, allocated once, that the garbage collector never scans
// (a map[digest]int32 measured about 85 bytes per row with its growth).
type digestSet struct {
	slots []digestSlot
	n     int
}

type digestSlot struct {
	d    digest
	line int32 // 0: empty (list lines start at 2)
}

// newDigestSet makes a set for about rows entries.
func newDigestSet(rows int) *digestSet {
	return &digestSet{slots: make([]digestSlot, rows+rows/4+16)}
}

// slot finds d's slot, or the empty slot where it belongs. The digest is
// already uniformly random (SHA-256), so its first bytes are the hash.
func (s *digestSet) slot(d digest) *digestSlot {
	h := binary.LittleEndian.Uint64(d[:8])
	i, _ := bits.Mul64(h, uint64(len(s.slots)))
	for {
		sl := &s.slots[i]
		if sl.line == 0 || sl.d == d {
			return sl
		}
		if i++; i == uint64(len(s.slots)) {
			i = 0
		}
	}
}

// get returns the line where d was first seen.
func (s *digestSet) get(d digest) (int32, bool) {
	sl := s.slot(d)
	return sl.line, sl.line != 0
}

// put records d at line (> 0) unless it is there already.
func (s *digestSet) put(d digest, line int32) {
	if sl := s.slot(d); sl.line == 0 {
		sl.d, sl.line = d, line
		s.n++
	}
	if s.n*10 > len(s.slots)*9 { // the list grew since it was counted
		old := s.slots
		s.slots, s.n = make([]digestSlot, 2*len(old)), 0
		for _, sl := range old {
			if sl.line != 0 {
				s.put(sl.d, sl.line)
			}
		}
	}
}
