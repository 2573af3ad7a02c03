package serve

import "testing"

var testSecret = []byte("0123456789abcdef-test")

var _ = testing.Verbose
