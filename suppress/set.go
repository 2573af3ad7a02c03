package suppress

import (
	"crypto/sha256"
)

// Set is the addresses of one or more suppression files, kept as 16-byte
// digests of their keys so that a list of millions stays small.
type Set struct {
	files map[[16]byte]string // digest of address.Key -> the last file listing it
}

// Load reads the suppression files at paths into one Set. A file that is
// missing or not a suppression list is an error (a *FormatError for the
// latter, naming the file and line).
func Load(paths ...string) (*Set, error) {
	s := &Set{files: map[[16]byte]string{}}
	for _, p := range paths {
		err := Read(p, func(e Entry) error {
			s.files[digest(e.Key())] = p
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
	return s.files[digest(k)]
}

// Len is the number of distinct addresses in the set.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.files)
}

func digest(k string) [16]byte {
	sum := sha256.Sum256([]byte(k))
	var d [16]byte
	copy(d[:], sum[:16])
	return d
}
