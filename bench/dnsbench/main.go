// Command dnsbench serves DNS on 127.0.0.1 for the DNS benchmarks and the
// example runs: -zone FILE answers from a dnstest zone; -synth answers
// every name dN.bench.test (MX for most, null MX for every 100th, NXDOMAIN
// for every 50th). It writes its address to -addr-file, then serves until
// SIGINT or SIGTERM, and prints how many queries it answered.
//
// -list FILE -rows N -domains D writes a list of N rows over D domains of
// the synthetic zone, and exits.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/mailer-dev/mailer/dnscheck/dnstest"
	"github.com/miekg/dns"
)

func main() {
	zone := flag.String("zone", "", "serve this dnstest zone `FILE`")
	synth := flag.Bool("synth", false, "also answer the synthetic dN.bench.test domains")
	addrFile := flag.String("addr-file", "", "write the server address to this `FILE`")
	list := flag.String("list", "", "write a list to this `FILE` and exit")
	rows := flag.Int("rows", 1000000, "rows of -list")
	domains := flag.Int("domains", 20000, "distinct domains of -list")
	flag.Parse()
	if *list != "" {
		if err := writeList(*list, *rows, *domains); err != nil {
			fmt.Fprintln(os.Stderr, "dnsbench:", err)
			os.Exit(1)
		}
		return
	}
	var src []byte
	if *zone != "" {
		var err error
		if src, err = os.ReadFile(*zone); err != nil {
			fmt.Fprintln(os.Stderr, "dnsbench:", err)
			os.Exit(1)
		}
	}
	s, err := dnstest.Start(dnstest.Zone(src))
	if err != nil {
		fmt.Fprintln(os.Stderr, "dnsbench:", err)
		os.Exit(1)
	}
	if *synth {
		s.Synthesize(answer)
	}
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(s.Addr+"\n"), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "dnsbench:", err)
			os.Exit(1)
		}
	} else {
		fmt.Println(s.Addr)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	s.Close()
	fmt.Fprintf(os.Stderr, "dnsbench: %d queries answered\n", s.Queries())
}

// answer is the synthetic zone: dN.bench.test.
func answer(name string, qtype uint16) ([]dns.RR, bool) {
	n, ok := strings.CutSuffix(name, ".bench.test.")
	if !ok || !strings.HasPrefix(n, "d") {
		return nil, false
	}
	i, err := strconv.Atoi(n[1:])
	if err != nil {
		return nil, false
	}
	switch {
	case i%50 == 0:
		return nil, false
	case qtype != dns.TypeMX:
		return nil, true
	case i%100 == 1:
		rr, _ := dns.NewRR(name + " 300 IN MX 0 .")
		return []dns.RR{rr}, true
	}
	rr, _ := dns.NewRR(name + " 300 IN MX 10 mx." + name)
	return []dns.RR{rr}, true
}

func writeList(path string, rows, domains int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "email,first_name")
	for i := 1; i <= rows; i++ {
		fmt.Fprintf(w, "user%d@d%d.bench.test,User%d\n", i, i%domains, i)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
