package dnscheck

import (
	"context"
	"errors"
	"net"
	"sort"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// Verdict is what DNS says about a recipient domain.
type Verdict int

// The verdicts. Only Invalid keeps rows from being sent.
const (
	OK        Verdict = iota // takes mail: MX records, or an address record (implicit MX)
	Invalid                  // cannot take mail: sending would bounce
	Temporary                // the lookup failed for now: SERVFAIL, timeout
)

// Reasons for Invalid, as recorded for the rows.
const (
	ReasonNoDomain = "domain does not exist"
	ReasonNullMX   = "domain accepts no mail (null MX, RFC 7505; 5.1.10)"
	ReasonNoHost   = "domain has no mail server (no MX, A or AAAA record)"
)

// Result is the answer for one domain.
type Result struct {
	Domain  string
	Verdict Verdict
	// Reason is one of the Reason constants for Invalid, and what failed
	// for Temporary ("SERVFAIL", "timeout").
	Reason string
}

// Checker looks up recipient domains, each once: results are cached, and
// a second caller for a domain in flight waits for the first one's answer.
type Checker struct {
	r     *Resolver
	mu    sync.Mutex
	cache map[string]*entry
}

type entry struct {
	done chan struct{}
	res  Result
}

// NewChecker makes a checker that asks r.
func NewChecker(r *Resolver) *Checker {
	return &Checker{r: r, cache: map[string]*entry{}}
}

// Lookup returns the verdict on domain (A-labels), from the cache when it
// was looked up before. RFC 5321 section 5.1: the MX records name the
// mail servers; a domain with none is its own mail server if it has an
// address record. RFC 7505: a single MX of "." says the domain takes no mail.
func (c *Checker) Lookup(ctx context.Context, domain string) Result {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	c.mu.Lock()
	e := c.cache[domain]
	if e != nil {
		c.mu.Unlock()
		select {
		case <-e.done:
			return e.res
		case <-ctx.Done():
			return Result{Domain: domain, Verdict: Temporary, Reason: ctx.Err().Error()}
		}
	}
	e = &entry{done: make(chan struct{})}
	c.cache[domain] = e
	c.mu.Unlock()
	e.res = c.lookup(ctx, domain)
	if ctx.Err() != nil && e.res.Verdict == Temporary {
		// Not an answer: a later caller asks again.
		c.mu.Lock()
		delete(c.cache, domain)
		c.mu.Unlock()
	}
	close(e.done)
	return e.res
}

func (c *Checker) lookup(ctx context.Context, domain string) Result {
	res := Result{Domain: domain}
	if _, ok := dns.IsDomainName(domain); !ok || strings.Contains(domain, "..") {
		res.Verdict, res.Reason = Invalid, ReasonNoDomain
		return res
	}
	in, err := c.r.Query(ctx, domain, dns.TypeMX)
	if err != nil {
		res.Verdict, res.Reason = Temporary, transportReason(err)
		return res
	}
	switch in.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		res.Verdict, res.Reason = Invalid, ReasonNoDomain
		return res
	default:
		res.Verdict, res.Reason = Temporary, dns.RcodeToString[in.Rcode]
		return res
	}
	var mxs []*dns.MX
	for _, rr := range in.Answer {
		if mx, ok := rr.(*dns.MX); ok {
			mxs = append(mxs, mx)
		}
	}
	if len(mxs) == 1 && mxs[0].Mx == "." {
		res.Verdict, res.Reason = Invalid, ReasonNullMX
		return res
	}
	if len(mxs) > 0 {
		return res
	}
	// No MX: the implicit MX is the domain's own address (RFC 5321 5.1).
	temp := ""
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		in, err := c.r.Query(ctx, domain, t)
		switch {
		case err != nil:
			temp = transportReason(err)
			continue
		case in.Rcode == dns.RcodeNameError:
			res.Verdict, res.Reason = Invalid, ReasonNoDomain
			return res
		case in.Rcode != dns.RcodeSuccess:
			temp = dns.RcodeToString[in.Rcode]
			continue
		}
		for _, rr := range in.Answer {
			if rr.Header().Rrtype == t {
				return res
			}
		}
	}
	if temp != "" {
		res.Verdict, res.Reason = Temporary, temp
		return res
	}
	res.Verdict, res.Reason = Invalid, ReasonNoHost
	return res
}

func transportReason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return err.Error()
}

// maxLines is how many lines each domain remembers.
const maxLines = 5

// Domain is one distinct recipient domain of a list: how many rows use it,
// the first few lines and the first address.
type Domain struct {
	Name  string
	Rows  int
	Lines []int // the lowest lines, at most maxLines, in order
	Email string
}

// Domains collects the distinct domains of a list as it streams by. Its
// memory is the set of distinct domains, whatever the number of rows.
type Domains struct {
	m    map[string]*Domain
	rows int
}

// NewDomains makes an empty set.
func NewDomains() *Domains { return &Domains{m: map[string]*Domain{}} }

// Add counts one row with address email at line; domain is its domain in
// A-labels. Rows are expected in line order.
func (ds *Domains) Add(domain, email string, line int) {
	domain = strings.ToLower(domain)
	ds.rows++
	d := ds.m[domain]
	if d == nil {
		d = &Domain{Name: domain, Email: email}
		ds.m[domain] = d
	}
	d.Rows++
	if len(d.Lines) < maxLines {
		d.Lines = append(d.Lines, line)
	}
}

// Len is the number of distinct domains.
func (ds *Domains) Len() int { return len(ds.m) }

// Rows is the number of rows added.
func (ds *Domains) Rows() int { return ds.rows }

// sorted lists the domains by first line.
func (ds *Domains) sorted() []*Domain {
	out := make([]*Domain, 0, len(ds.m))
	for _, d := range ds.m {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Lines[0] < out[j].Lines[0] })
	return out
}

// Kinds of Finding.
const (
	KindInvalid   = "invalid"
	KindTemporary = "temporary failure"
	KindTypo      = "likely typo"
)

// Finding is a domain that keeps its rows from being sent (Invalid) or
// deserves a look (Temporary, Typo).
type Finding struct {
	Domain     string `json:"domain"`
	Kind       string `json:"kind"`
	Reason     string `json:"reason"`               // the Result's Reason, or "did you mean gmail.com?"
	Suggestion string `json:"suggestion,omitempty"` // for a typo: the domain meant
	Rows       int    `json:"rows"`
	Lines      []int  `json:"lines"`
	Email      string `json:"email"` // the first row's address
}

// Report is what the domain check found.
type Report struct {
	Domains  int               `json:"domains"` // distinct domains looked up
	Rows     int               `json:"rows"`    // rows with a valid address
	Invalid  []*Finding        `json:"invalid"` // by first line
	Warnings []*Finding        `json:"warnings"`
	verdicts map[string]string // invalid domain -> reason
}

// Options configure Check.
type Options struct {
	Concurrency int // lookups in flight [DefaultConcurrency]
	Typos       TypoOptions
}

// Check looks up every domain in ds, Concurrency at a time, and reports
// the invalid ones, the temporary failures and the likely typos. Lookups
// that ctx cancels count as temporary failures; Check returns ctx's error
// then.
func (c *Checker) Check(ctx context.Context, ds *Domains, o Options) (*Report, error) {
	if o.Concurrency < 1 {
		o.Concurrency = DefaultConcurrency
	}
	all := ds.sorted()
	results := make([]Result, len(all))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < o.Concurrency && w < len(all); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = c.Lookup(ctx, all[i].Name)
			}
		}()
	}
	for i := range all {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rep := &Report{Domains: len(all), Rows: ds.rows, verdicts: map[string]string{}}
	typos := findTypos(all, o.Typos)
	for i, d := range all {
		r := results[i]
		f := &Finding{Domain: d.Name, Reason: r.Reason, Rows: d.Rows, Lines: d.Lines, Email: d.Email}
		if s, ok := typos[d.Name]; ok && r.Verdict == Invalid {
			f.Suggestion = s
			f.Reason += "; did you mean " + s + "?"
		}
		switch r.Verdict {
		case Invalid:
			f.Kind = KindInvalid
			rep.Invalid = append(rep.Invalid, f)
			rep.verdicts[d.Name] = d.Name + ": " + f.Reason
			continue
		case Temporary:
			f.Kind = KindTemporary
			rep.Warnings = append(rep.Warnings, f)
		}
		if s, ok := typos[d.Name]; ok {
			rep.Warnings = append(rep.Warnings, &Finding{Domain: d.Name, Kind: KindTypo, Reason: "did you mean " + s + "?", Suggestion: s, Rows: d.Rows, Lines: d.Lines, Email: d.Email})
		}
	}
	return rep, nil
}

// Verdict says whether rows at domain must not be sent, and why. It is
// safe for concurrent use once Check has returned.
func (r *Report) Verdict(domain string) (invalid bool, reason string) {
	reason, invalid = r.verdicts[strings.ToLower(domain)]
	return invalid, reason
}

// InvalidRows is the number of rows at invalid domains.
func (r *Report) InvalidRows() int {
	n := 0
	for _, f := range r.Invalid {
		n += f.Rows
	}
	return n
}
