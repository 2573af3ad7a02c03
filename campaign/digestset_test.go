package campaign

import (
	"fmt"
	"testing"
)

func TestDigestSet(t *testing.T) {
	s := newDigestSet(10) // smaller than what goes in: it must grow
	for i := 0; i < 5000; i++ {
		s.put(digestOf(fmt.Sprintf("u%d@example.com", i)), int32(i+2))
	}
	for i := 0; i < 5000; i++ {
		line, ok := s.get(digestOf(fmt.Sprintf("u%d@example.com", i)))
		if !ok || line != int32(i+2) {
			t.Fatalf("u%d: line %d, %v", i, line, ok)
		}
	}
	s.put(digestOf("u7@example.com"), 9999) // the first line stays
	if line, _ := s.get(digestOf("u7@example.com")); line != 9 {
		t.Errorf("first line overwritten: %d", line)
	}
	if _, ok := s.get(digestOf("nobody@example.com")); ok {
		t.Error("found an address never put")
	}
	if s.n != 5000 {
		t.Errorf("n = %d", s.n)
	}
}
