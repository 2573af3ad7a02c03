// Package dnscheck looks up what DNS says before a campaign sends: whether
// each recipient domain takes mail (MX, null MX, implicit MX), likely typos
// of big mailbox providers' domains, and the sender's own SPF, DMARC and
// DKIM records. Every query goes to one resolver through miekg/dns, under
// one shared rate limit.
//
// It is a leaf: it never imports campaign, cmd or sender, and it never
// prints. The DKIM probe is signed by a function the caller gives, so the
// signer stays render's.
package dnscheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/time/rate"
)

// Defaults for ResolverOptions and Options.
const (
	// DefaultTimeout is how long one query waits for its answer before it is
	// sent again (once); a recursive resolver that has to ask a slow
	// authoritative server answers within a second or two, or not at all.
	DefaultTimeout = 2 * time.Second
	// DefaultRate is lookups per second over the whole run. Google Public
	// DNS documents a default limit of 1000 queries per second per client
	// address (developers.google.com/speed/public-dns/docs/isp; 1500 in
	// earlier versions) and Cloudflare does not publish one; 500 stays
	// well under it while 20,000 domains still check in under a minute.
	DefaultRate = 500
	// DefaultConcurrency is queries in flight at once: enough to keep
	// DefaultRate busy when answers take 50 ms, few enough for a home
	// router's resolver.
	DefaultConcurrency = 32
	// attempts per query: one retry covers a lost UDP datagram.
	attempts = 2
	// ednsSize is the UDP payload size offered (the 2020 DNS flag day
	// value, which avoids IP fragmentation).
	ednsSize = 1232
)

// ResolverOptions configure a Resolver.
type ResolverOptions struct {
	// Server is HOST:PORT of the DNS server to ask; "" reads the system's
	// from /etc/resolv.conf.
	Server  string
	Timeout time.Duration // per query attempt [DefaultTimeout]
	// Rate caps queries per second, all lookups together [DefaultRate];
	// negative means no cap.
	Rate float64
}

// Resolver sends queries to one recursive DNS server (or the system's,
// in turn). It is safe for concurrent use. Its Lookup methods have the
// signatures of *net.Resolver's, so that SPF evaluation can use it, and
// return *net.DNSError like net does.
type Resolver struct {
	servers []string
	timeout time.Duration
	lim     *rate.Limiter
	udp     *dns.Client
	tcp     *dns.Client
}

// NewResolver makes a resolver.
func NewResolver(o ResolverOptions) (*Resolver, error) {
	r := &Resolver{timeout: o.Timeout, udp: &dns.Client{Net: "udp", UDPSize: ednsSize}, tcp: &dns.Client{Net: "tcp"}}
	if r.timeout <= 0 {
		r.timeout = DefaultTimeout
	}
	switch {
	case o.Rate == 0:
		r.lim = rate.NewLimiter(DefaultRate, DefaultRate/10+1)
	case o.Rate > 0:
		r.lim = rate.NewLimiter(rate.Limit(o.Rate), int(o.Rate/10)+1)
	}
	if o.Server != "" {
		host, port, err := net.SplitHostPort(o.Server)
		if err != nil || host == "" {
			return nil, fmt.Errorf("resolver %q: want HOST:PORT, such as 127.0.0.1:53", o.Server)
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return nil, fmt.Errorf("resolver %q: bad port", o.Server)
		}
		r.servers = []string{o.Server}
		return r, nil
	}
	cfg, err := dns.ClientConfigFromFile("/etc/resolv.conf")
	if err != nil {
		return nil, fmt.Errorf("system resolver: %w", err)
	}
	for _, s := range cfg.Servers {
		r.servers = append(r.servers, net.JoinHostPort(s, cfg.Port))
	}
	if len(r.servers) == 0 {
		return nil, errors.New("system resolver: no nameserver in /etc/resolv.conf")
	}
	return r, nil
}

// Server is the first server asked, HOST:PORT.
func (r *Resolver) Server() string { return r.servers[0] }

// Query asks for name's records of type qtype and returns the whole
// answer, whatever its Rcode. An error is a transport failure: no answer
// within the timeout, twice, or ctx done. An answer truncated over UDP is
// asked again over TCP (RFC 7766).
func (r *Resolver) Query(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = true
	m.SetEdns0(ednsSize, false)
	var last error
	for i := 0; i < attempts; i++ {
		if r.lim != nil {
			if err := r.lim.Wait(ctx); err != nil {
				return nil, err
			}
		}
		server := r.servers[i%len(r.servers)]
		actx, cancel := context.WithTimeout(ctx, r.timeout)
		in, _, err := r.udp.ExchangeContext(actx, m, server)
		if err == nil && in.Truncated {
			in, _, err = r.tcp.ExchangeContext(actx, m, server)
		}
		cancel()
		if err == nil {
			if in.Id != m.Id {
				err = errors.New("answer with another query id")
			} else {
				return in, nil
			}
		}
		last = err
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return nil, last
}

// lookup is Query with net's error conventions: NXDOMAIN and an empty
// answer are IsNotFound, SERVFAIL and timeouts are temporary.
func (r *Resolver) lookup(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	in, err := r.Query(ctx, name, qtype)
	if err != nil {
		var ne net.Error
		timeout := errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
		return nil, &net.DNSError{Err: err.Error(), Name: name, Server: r.Server(), IsTimeout: timeout, IsTemporary: true}
	}
	if err := rcodeError(name, r.Server(), in.Rcode); err != nil {
		return nil, err
	}
	var out []dns.RR
	for _, rr := range in.Answer {
		if rr.Header().Rrtype == qtype {
			out = append(out, rr)
		}
	}
	if len(out) == 0 {
		return nil, &net.DNSError{Err: "no " + dns.TypeToString[qtype] + " record", Name: name, Server: r.Server(), IsNotFound: true}
	}
	return out, nil
}

func rcodeError(name, server string, rcode int) error {
	switch rcode {
	case dns.RcodeSuccess:
		return nil
	case dns.RcodeNameError:
		return &net.DNSError{Err: "no such host", Name: name, Server: server, IsNotFound: true}
	case dns.RcodeServerFailure:
		return &net.DNSError{Err: "server misbehaving (SERVFAIL)", Name: name, Server: server, IsTemporary: true}
	}
	return &net.DNSError{Err: "answer " + dns.RcodeToString[rcode], Name: name, Server: server}
}

// LookupTXT returns name's TXT records, the strings of each joined
// (RFC 7208 section 3.3).
func (r *Resolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	rrs, err := r.lookup(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, strings.Join(rr.(*dns.TXT).Txt, ""))
	}
	return out, nil
}

// LookupMX returns name's MX records.
func (r *Resolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	rrs, err := r.lookup(ctx, name, dns.TypeMX)
	if err != nil {
		return nil, err
	}
	out := make([]*net.MX, 0, len(rrs))
	for _, rr := range rrs {
		mx := rr.(*dns.MX)
		out = append(out, &net.MX{Host: mx.Mx, Pref: mx.Preference})
	}
	return out, nil
}

// LookupIPAddr returns host's A and AAAA addresses.
func (r *Resolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	var out []net.IPAddr
	var first error
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		rrs, err := r.lookup(ctx, host, t)
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		for _, rr := range rrs {
			switch a := rr.(type) {
			case *dns.A:
				out = append(out, net.IPAddr{IP: a.A})
			case *dns.AAAA:
				out = append(out, net.IPAddr{IP: a.AAAA})
			}
		}
	}
	if len(out) == 0 {
		return nil, first
	}
	return out, nil
}

// LookupAddr returns the names of addr's PTR records.
func (r *Resolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	rev, err := dns.ReverseAddr(addr)
	if err != nil {
		return nil, &net.DNSError{Err: err.Error(), Name: addr}
	}
	rrs, err := r.lookup(ctx, rev, dns.TypePTR)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, rr.(*dns.PTR).Ptr)
	}
	return out, nil
}
