package campaign

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"
)

// checkPeakHeap checks an n-row list while sampling the live heap (after a
// GC) every few milliseconds, and returns the largest sample.
func checkPeakHeap(t *testing.T, n int) uint64 {
	list := genList(t, t.TempDir(), n)
	tm := testTemplate(t, tmplSrc)
	runtime.GC()
	var peak uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				runtime.GC()
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
		}
	}()
	rep, err := Check(context.Background(), CheckOptions{PrepareOptions: PrepareOptions{ListOptions: ListOptions{List: list, Template: tm}}})
	close(stop)
	wg.Wait()
	if err != nil || rep.Ready != n {
		t.Fatalf("%v; report %+v", err, rep)
	}
	return peak
}

// TestCheckMemoryFlat: check keeps counts and a few rows per group, never
// the rows or messages themselves; only the duplicate set grows.
func TestCheckMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a 100,000-row list")
	}
	small := checkPeakHeap(t, 10_000)
	large := checkPeakHeap(t, 100_000)
	perRow := float64(int64(large)-int64(small)) / 90_000
	t.Logf("check's peak live heap: %.1f MB at 10k rows, %.1f MB at 100k rows: %.0f bytes per extra row", float64(small)/1e6, float64(large)/1e6, perRow)
	if perRow > 150 {
		t.Errorf("memory grows by %.0f bytes per row; check is keeping rows", perRow)
	}
}
