// Package dnstest is a DNS server for tests and benchmarks: it answers
// from a small zone written in master-file syntax, on 127.0.0.1 over UDP
// and TCP. Names can be made to fail (SERVFAIL) or to answer only after a
// delay, to test timeouts. It imports nothing of mailer.
package dnstest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Server is a running DNS server. Close stops it.
type Server struct {
	// Addr is the address clients query, 127.0.0.1:PORT (UDP and TCP).
	Addr string

	mu      sync.RWMutex
	records map[string][]dns.RR // owner name (lower case, FQDN) -> records
	fail    map[string]bool     // names answered SERVFAIL
	slow    map[string]time.Duration
	synth   func(name string, qtype uint16) ([]dns.RR, bool)

	queries atomic.Int64
	udp     *dns.Server
	tcp     *dns.Server
	done    chan struct{}
	once    sync.Once
}

// Zone is the text of a zone: one resource record a line in master-file
// syntax (owner names fully qualified, "example.com. 300 IN MX 10 mx.example.com."),
// blank lines and ";" comments ignored, and two directives:
//
//	$SERVFAIL name.      every query for name is answered SERVFAIL
//	$SLOW name. 2s       queries for name are answered after 2s (or at Close)
type Zone string

// Start starts a server for zone on 127.0.0.1:0.
func Start(zone Zone) (*Server, error) {
	s := &Server{records: map[string][]dns.RR{}, fail: map[string]bool{}, slow: map[string]time.Duration{}, done: make(chan struct{})}
	if err := s.Load(zone); err != nil {
		return nil, err
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		return nil, err
	}
	s.Addr = pc.LocalAddr().String()
	started := make(chan struct{}, 2)
	notify := func() { started <- struct{}{} }
	s.udp = &dns.Server{PacketConn: pc, Handler: s, NotifyStartedFunc: notify}
	s.tcp = &dns.Server{Listener: l, Handler: s, NotifyStartedFunc: notify}
	errs := make(chan error, 2)
	go func() { errs <- s.udp.ActivateAndServe() }()
	go func() { errs <- s.tcp.ActivateAndServe() }()
	for i := 0; i < 2; i++ {
		select {
		case <-started:
		case err := <-errs:
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// Load adds the records and directives of zone.
func (s *Server) Load(zone Zone) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := bufio.NewScanner(strings.NewReader(string(zone)))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, ";") {
			continue
		}
		f := strings.Fields(line)
		switch f[0] {
		case "$SERVFAIL":
			if len(f) != 2 {
				return fmt.Errorf("zone line %d: $SERVFAIL name", n)
			}
			s.fail[canon(f[1])] = true
			continue
		case "$SLOW":
			if len(f) != 3 {
				return fmt.Errorf("zone line %d: $SLOW name duration", n)
			}
			d, err := time.ParseDuration(f[2])
			if err != nil {
				return fmt.Errorf("zone line %d: %w", n, err)
			}
			s.slow[canon(f[1])] = d
			continue
		}
		rr, err := dns.NewRR(line)
		if err != nil {
			return fmt.Errorf("zone line %d: %w", n, err)
		}
		name := canon(rr.Header().Name)
		s.records[name] = append(s.records[name], rr)
	}
	return sc.Err()
}

// Synthesize sets a function that answers names the zone does not hold
// (benchmarks: thousands of generated domains). ok false means the name
// does not exist.
func (s *Server) Synthesize(f func(name string, qtype uint16) (rrs []dns.RR, ok bool)) {
	s.mu.Lock()
	s.synth = f
	s.mu.Unlock()
}

// Queries is how many queries the server has received.
func (s *Server) Queries() int64 { return s.queries.Load() }

// Close stops the server; slow answers still waiting are sent at once.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.done)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if s.udp != nil {
			s.udp.ShutdownContext(ctx)
		}
		if s.tcp != nil {
			s.tcp.ShutdownContext(ctx)
		}
	})
}

func canon(name string) string { return strings.ToLower(dns.Fqdn(name)) }

// ServeDNS answers one query: SERVFAIL for $SERVFAIL names, NXDOMAIN for
// names that hold no record (and have none below them), else the records
// of the asked type, with CNAMEs followed inside the zone.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	s.queries.Add(1)
	m := new(dns.Msg)
	m.SetReply(req)
	m.RecursionAvailable = true
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := canon(q.Name)
	s.mu.RLock()
	fail, delay := s.fail[name], s.slow[name]
	s.mu.RUnlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-s.done:
			t.Stop()
		}
	}
	if fail {
		m.Rcode = dns.RcodeServerFailure
		w.WriteMsg(m)
		return
	}
	rrs, exists := s.lookup(name, q.Qtype, 0)
	if !exists {
		m.Rcode = dns.RcodeNameError
	}
	m.Answer = rrs
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		size := 512
		if o := req.IsEdns0(); o != nil {
			size = int(o.UDPSize())
			m.SetEdns0(o.UDPSize(), false)
		}
		m.Truncate(size)
	}
	w.WriteMsg(m)
}

func (s *Server) lookup(name string, qtype uint16, depth int) (out []dns.RR, exists bool) {
	s.mu.RLock()
	rrs, ok := s.records[name]
	synth := s.synth
	s.mu.RUnlock()
	if !ok && synth != nil {
		return synth(name, qtype)
	}
	if !ok {
		return nil, s.hasBelow(name)
	}
	for _, rr := range rrs {
		h := rr.Header()
		switch {
		case h.Rrtype == qtype:
			out = append(out, rr)
		case h.Rrtype == dns.TypeCNAME && qtype != dns.TypeCNAME && depth < 8:
			out = append(out, rr)
			more, _ := s.lookup(canon(rr.(*dns.CNAME).Target), qtype, depth+1)
			out = append(out, more...)
		}
	}
	return out, true
}

// hasBelow reports an empty non-terminal: a name with no records of its
// own but some below it (_domainkey.example.com), which exists (RFC 8020).
func (s *Server) hasBelow(name string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for n := range s.records {
		if strings.HasSuffix(n, "."+name) {
			return true
		}
	}
	return false
}
