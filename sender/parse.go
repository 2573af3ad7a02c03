package sender

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// ParseRate parses "N/s", "N/m" or "N/h" (N may have a fraction) into a
// rate.Limit in messages per second. "0" or "" means no limit.
func ParseRate(s string) (rate.Limit, error) {
	if s == "" || s == "0" {
		return 0, nil
	}
	num, unit, ok := strings.Cut(s, "/")
	if !ok {
		unit = "s"
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("rate %q: want N/s, N/m or N/h with N > 0", s)
	}
	var per time.Duration
	switch unit {
	case "s", "sec":
		per = time.Second
	case "m", "min":
		per = time.Minute
	case "h", "hour":
		per = time.Hour
	default:
		return 0, fmt.Errorf("rate %q: unit must be s, m or h", s)
	}
	return rate.Limit(n / per.Seconds()), nil
}

// ParseDomainLimit parses a per-recipient-domain limit, "DOMAIN=CONNS" or
// "DOMAIN=CONNS,RATE" (for example "gmail.com=5,20/s"): at most CONNS
// transactions to the domain at once over all relays (0: no cap), and at
// most RATE messages to it.
func ParseDomainLimit(s string) (string, DomainLimit, error) {
	domain, spec, ok := strings.Cut(s, "=")
	domain = strings.ToLower(strings.TrimSpace(domain))
	if !ok || domain == "" || strings.ContainsAny(domain, "@ ") {
		return "", DomainLimit{}, fmt.Errorf("domain limit %q: want DOMAIN=CONNS[,RATE], e.g. gmail.com=5,20/s", s)
	}
	conns, rateSpec, _ := strings.Cut(spec, ",")
	var dl DomainLimit
	n, err := strconv.Atoi(strings.TrimSpace(conns))
	if err != nil || n < 0 {
		return "", DomainLimit{}, fmt.Errorf("domain limit %q: CONNS must be a whole number (0: no cap)", s)
	}
	dl.MaxConns = n
	if rateSpec != "" {
		if dl.Rate, err = ParseRate(strings.TrimSpace(rateSpec)); err != nil {
			return "", DomainLimit{}, fmt.Errorf("domain limit %q: %w", s, err)
		}
	}
	return domain, dl, nil
}
