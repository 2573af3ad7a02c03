// Package bench holds the benchmark scripts (*.sh) and whole-pipeline Go
// benchmarks: list -> render -> pool -> results CSV, for profiling.
//
//	go test ./bench -run x -bench Run -cpuprofile cpu.out   # in-process relay
//	MAILER_BENCH_RELAY=127.0.0.1:2541 go test ./bench ...   # a real sink (smtp-sink)
package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailer-dev/mailer/campaign"
	"github.com/mailer-dev/mailer/internal/testrelay"
	"github.com/mailer-dev/mailer/render"
	"github.com/mailer-dev/mailer/sender"
)

// benchTemplate is about 4.3 KB rendered, like bench/common.sh's.
func benchTemplate() string {
	var b strings.Builder
	b.WriteString("From: Bench <bench@sender.test>\nSubject: {{.first_name}}, your {{.plan}} digest\n\nHi {{.first_name}} from {{.city}},\n\n")
	for i := 1; i <= 60; i++ {
		fmt.Fprintf(&b, "Line %d of the {{.plan}} digest for {{.name}}: lorem ipsum dolor.\n", i)
	}
	b.WriteString("\nBye {{.first_name}}.\n")
	return b.String()
}

func writeList(tb testing.TB, path string, n int) {
	var b bytes.Buffer
	b.WriteString("email,first_name,name,plan,city\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "user%07d@d%d.sink.test,First%d,First%d Last%d,pro,Oslo\n", i, i%97, i, i, i)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
}

func parse(tb testing.TB) *render.Template {
	tm, err := render.Parse("bench.tmpl", []byte(benchTemplate()), render.Options{
		Now:       time.Now,
		MessageID: func(r string) string { return "bench." + r },
	})
	if err != nil {
		tb.Fatal(err)
	}
	return tm
}

// BenchmarkRender renders one ~4.3 KB personalised message.
func BenchmarkRender(b *testing.B) {
	tm := parse(b)
	var buf bytes.Buffer
	rc := render.Recipient{Address: "user0000001@d1.sink.test", Name: "First1 Last1",
		Fields: map[string]string{"email": "user0000001@d1.sink.test", "first_name": "First1", "name": "First1 Last1", "plan": "pro", "city": "Oslo"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tm.Render(&buf, rc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRun is one whole campaign of b.N recipients at concurrency 16.
func BenchmarkRun(b *testing.B) {
	for _, c := range []int{1, 16} {
		b.Run(fmt.Sprintf("C=%d", c), func(b *testing.B) {
			addr := os.Getenv("MAILER_BENCH_RELAY")
			if addr == "" {
				s, err := testrelay.Listen("127.0.0.1:0", testrelay.Options{})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				addr = s.Addr()
			}
			dir := b.TempDir()
			list := filepath.Join(dir, "list.csv")
			writeList(b, list, b.N)
			r, err := sender.ParseRelay("smtp+plain://"+addr, false)
			if err != nil {
				b.Fatal(err)
			}
			pool, err := sender.New([]sender.Relay{r}, sender.Options{MaxConns: c, HelloName: "bench.test"})
			if err != nil {
				b.Fatal(err)
			}
			defer pool.Close()
			b.ReportAllocs()
			b.ResetTimer()
			sum, err := campaign.Run(context.Background(), campaign.Options{
				ListOptions: campaign.ListOptions{List: list, Template: parse(b)},
				Results:     filepath.Join(dir, "results.csv"),
				Concurrency: c,
			}, pool)
			if err != nil {
				b.Fatal(err)
			}
			if sum.Counts[campaign.Delivered] != b.N {
				b.Fatalf("delivered %d of %d", sum.Counts[campaign.Delivered], b.N)
			}
		})
	}
}
