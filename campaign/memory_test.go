package campaign

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func genList(t testing.TB, dir string, n int) string {
	t.Helper()
	p := filepath.Join(dir, fmt.Sprintf("list-%d.csv", n))
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "email,first_name,name,city,plan")
	for i := 0; i < n; i++ {
		fmt.Fprintf(w, "user%07d@example.com,First%d,First%d Last%d,Springfield,premium-annual-subscription\n", i, i, i, i)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

// peakHeap runs a campaign over an n-row list and returns the largest live
// heap seen while it ran (sampled every 2,000 outcomes after a GC).
func peakHeap(t *testing.T, n int) uint64 {
	dir := t.TempDir()
	list := genList(t, dir, n)
	var peak uint64
	var ms runtime.MemStats
	runtime.GC()
	o := Options{
		ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)},
		Results:     filepath.Join(dir, "r.csv"),
		Concurrency: 4,
		Progress: func(p Progress) {
			if p.Done%2000 == 0 {
				runtime.GC()
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
		},
	}
	sum, err := Run(context.Background(), o, &fakeSender{countOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Counts[Delivered] != n {
		t.Fatalf("delivered %d of %d", sum.Counts[Delivered], n)
	}
	return peak
}

// TestMemoryFlat shows the list is streamed: ten times the rows must not
// take anything like ten times the memory. The only state that grows is the
// duplicate set (a 16-byte digest and a line number per address in a table
// sized at 1.25 slots per row: 25 bytes); a map would cost about 85 bytes
// and keeping rows several hundred.
func TestMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a 200,000-row list")
	}
	small := peakHeap(t, 20_000)
	large := peakHeap(t, 200_000)
	perRow := float64(int64(large)-int64(small)) / 180_000
	t.Logf("peak live heap: %.1f MB at 20k rows, %.1f MB at 200k rows: %.0f bytes per extra row", float64(small)/1e6, float64(large)/1e6, perRow)
	if perRow > 50 {
		t.Errorf("memory grows by %.0f bytes per row; the list is not being streamed", perRow)
	}
}
