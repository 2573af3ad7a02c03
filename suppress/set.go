package suppress

import (
	"crypto/sha256"
	"strings"
)

// Set is the addresses of one or more suppression files, kept as 16-byte
// digests of their keys so that a list of millions stays small.
type Set struct {
	files map[[16]byte]hit // digest of address.Key -> the last row suppressing it
}

// hit is where an address is suppressed and why. Reasons are interned, so
// a million rows share a handful of strings.
type hit struct {
	file   string
	reason Reason
}

// Load reads the suppression files at paths into one Set. A file that is
// missing or not a suppression list is an error (a *FormatError for the
// latter, naming the file and line). Rows whose reason does not suppress
// (Reason.Suppresses: soft-bounce counts) are passed over.
func Load(paths ...string) (*Set, error) {
	s := &Set{files: map[[16]byte]hit{}}
	reasons := map[Reason]Reason{}
	for _, p := range paths {
		err := Read(p, func(e Entry) error {
			if !e.Reason.Suppresses() {
				return nil
			}
			r, ok := reasons[e.Reason]
			if !ok {
				r = Reason(strings.Clone(string(e.Reason)))
				reasons[r] = r
			}
			s.files[digest(e.Key())] = hit{file: p, reason: r}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

// File is the file that suppresses the address with key k (address.Key),
// or "" when none does.
func (s *Set) File(k string) string {
	if s == nil {
		return ""
	}
	return s.files[digest(k)].file
}

// Reason is why the address with key k is suppressed: the reason of the
// last row that suppresses it ("" when that row gives none, or when no row
// does; File tells the two apart).
func (s *Set) Reason(k string) Reason {
	if s == nil {
		return ""
	}
	return s.files[digest(k)].reason
}

// Match is File and Reason at once, for the key whose Digest is d: a
// caller that already holds the digest (campaign hashes each list row's
// key once) does not hash it again per question.
func (s *Set) Match(d [16]byte) (file string, reason Reason) {
	if s == nil {
		return "", ""
	}
	h := s.files[d]
	return h.file, h.reason
}

// Len is the number of distinct addresses in the set.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.files)
}

// Digest is the digest a Set keeps of an address key (address.Key): the
// first 16 bytes of its SHA-256.
func Digest(k string) [16]byte { return digest(k) }

func digest(k string) [16]byte {
	sum := sha256.Sum256([]byte(k))
	var d [16]byte
	copy(d[:], sum[:16])
	return d
}
