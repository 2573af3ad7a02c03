package campaign

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// Shard is one of N parts of a campaign: the rows whose address hashes to
// K mod N. The zero value (N 0) is the whole campaign.
//
// The hash is stable and documented, so any program can tell which shard
// an address is on: the first 8 bytes of SHA-256 of address.Key (the
// normalised address; for an invalid cell, the key of the cell's text as
// the results record it), read as a big-endian uint64, mod N. Duplicates
// have the same key, so they are on the same shard as their first row.
type Shard struct {
	K, N int
}

// ParseShard reads "K/N" with 0 <= K < N.
func ParseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{}, nil
	}
	ks, ns, ok := strings.Cut(strings.TrimSpace(s), "/")
	k, err1 := strconv.Atoi(strings.TrimSpace(ks))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	if !ok || err1 != nil || err2 != nil || n < 1 || k < 0 || k >= n {
		return Shard{}, fmt.Errorf("shard %q: want K/N with 0 <= K < N, such as 0/4", s)
	}
	return Shard{K: k, N: n}, nil
}

// String is "K/N", or "" for the whole campaign.
func (s Shard) String() string {
	if s.N == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.K, s.N)
}

// ShardOf is the shard, of n, that the address key belongs to.
func ShardOf(key string, n int) int {
	sum := sha256.Sum256([]byte(key))
	return int(binary.BigEndian.Uint64(sum[:8]) % uint64(n))
}

// Has reports whether the address key is on this shard.
func (s Shard) Has(key string) bool {
	return s.N <= 1 || ShardOf(key, s.N) == s.K
}
