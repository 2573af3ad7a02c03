package sender

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"

	"golang.org/x/time/rate"
)

// Security is how a connection to a relay is protected.
type Security int

const (
	// StartTLS: plain TCP upgraded with STARTTLS, which is required (smtp://).
	StartTLS Security = iota
	// ImplicitTLS: TLS from the first byte (smtps://, RFC 8314).
	ImplicitTLS
	// Plain: no TLS at all (smtp+plain://), for loopback relays.
	Plain
)

// Relay is one upstream SMTP server and the limits that apply to it.
type Relay struct {
	// Name identifies the relay in results and logs: scheme://host:port.
	Name     string
	Addr     string // host:port
	Host     string
	Security Security
	Username string
	// Password for AUTH; comes from the environment or a file, never a URL.
	Password string
	// MaxConns caps simultaneous connections (0: the pool's default).
	MaxConns int
	// MsgsPerConn is how many messages a connection carries before QUIT and
	// a fresh connection (0: unlimited).
	MsgsPerConn int
	// Rate limits this relay on top of the global rate (0: no own limit).
	Rate rate.Limit
	// Weight is the relay's share of the traffic relative to the others
	// (0 counts as 1): weights 3 and 1 send three messages to the first for
	// each one to the second while both are healthy.
	Weight int
	// TLSConfig overrides the TLS settings: the ca= parameter sets its
	// RootCAs (tests set it for a private CA).
	TLSConfig *tls.Config
	// Quota is how many messages the relay takes a day, from midnight in
	// the pool's QuotaZone (0: the pool's Quota).
	Quota int
	// CAFile is the ca= parameter: a PEM file of the authorities trusted
	// for this relay instead of the system's roots.
	CAFile string
}

// PasswordInURLError is a relay URL with a password in it: the URL shows
// in process listings and shell history, so ParseRelay refuses it.
type PasswordInURLError struct{ Relay string }

func (e *PasswordInURLError) Error() string {
	return fmt.Sprintf("relay %s: a password in the URL is refused (it would show in process listings and shell history)", e.Relay)
}

// PlaintextError is an smtp+plain:// relay that is not on loopback, given
// to ParseRelay without allowPlain.
type PlaintextError struct{ Relay string }

func (e *PlaintextError) Error() string {
	return fmt.Sprintf("relay %s: smtp+plain:// sends mail unencrypted; it is allowed only to loopback addresses", e.Relay)
}

// ParseRelay parses a relay URL:
//
//	smtp://[user@]host[:587]        STARTTLS, required
//	smtps://[user@]host[:465]       implicit TLS
//	smtp+plain://host[:25]          no TLS; loopback only unless allowPlain
//
// Query parameters set per-relay limits: max_conns, msgs_per_conn, rate
// (N/s, N/m or N/h), weight and quota (N/day); ca names a PEM file of the certificate
// authorities to trust for this relay instead of the system's roots (which
// Go reads from SSL_CERT_FILE and SSL_CERT_DIR when they are set). A
// password in the URL is refused: it would show in process listings and
// shell history.
func ParseRelay(raw string, allowPlain bool) (Relay, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Relay{}, fmt.Errorf("relay %q: %w", raw, err)
	}
	var r Relay
	port := ""
	switch u.Scheme {
	case "smtp":
		r.Security, port = StartTLS, "587"
	case "smtps":
		r.Security, port = ImplicitTLS, "465"
	case "smtp+plain":
		r.Security, port = Plain, "25"
	default:
		return Relay{}, fmt.Errorf("relay %q: scheme must be smtp://, smtps:// or smtp+plain://", raw)
	}
	r.Host = u.Hostname()
	if r.Host == "" {
		return Relay{}, fmt.Errorf("relay %q: no host", raw)
	}
	if p := u.Port(); p != "" {
		port = p
	}
	r.Addr = net.JoinHostPort(r.Host, port)
	r.Name = u.Scheme + "://" + r.Addr
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			return Relay{}, &PasswordInURLError{Relay: r.Name}
		}
		r.Username = u.User.Username()
	}
	if r.Security == Plain {
		if r.Username != "" {
			return Relay{}, fmt.Errorf("relay %s: AUTH over an unencrypted connection is refused; use smtp:// (STARTTLS) or smtps://", r.Name)
		}
		if !allowPlain && !isLoopback(r.Host) {
			return Relay{}, &PlaintextError{Relay: r.Name}
		}
	}
	q := u.Query()
	for k, vs := range q {
		v := vs[len(vs)-1]
		switch k {
		case "max_conns", "msgs_per_conn", "weight":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return Relay{}, fmt.Errorf("relay %s: %s=%q: want a whole number of at least 1", r.Name, k, v)
			}
			switch k {
			case "max_conns":
				r.MaxConns = n
			case "msgs_per_conn":
				r.MsgsPerConn = n
			default:
				r.Weight = n
			}
		case "rate":
			l, err := ParseRate(v)
			if err != nil {
				return Relay{}, fmt.Errorf("relay %s: %w", r.Name, err)
			}
			r.Rate = l
		case "quota":
			n, err := ParseQuota(v)
			if err != nil || n == 0 {
				return Relay{}, fmt.Errorf("relay %s: quota=%q: want N/day with N at least 1", r.Name, v)
			}
			r.Quota = n
		case "ca":
			if r.Security == Plain {
				return Relay{}, fmt.Errorf("relay %s: ca=%s: smtp+plain:// has no TLS to verify", r.Name, v)
			}
			cfg, err := caConfig(v)
			if err != nil {
				return Relay{}, fmt.Errorf("relay %s: %w", r.Name, err)
			}
			r.TLSConfig, r.CAFile = cfg, v
		default:
			return Relay{}, fmt.Errorf("relay %s: unknown parameter %q (known: max_conns, msgs_per_conn, rate, weight, quota, ca)", r.Name, k)
		}
	}
	return r, nil
}

// caConfig trusts the certificates of a PEM file instead of the system's
// roots, as curl's --cacert does: a relay with a private CA is checked
// against that CA only.
func caConfig(file string) (*tls.Config, error) {
	pemData, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("ca=%s: %w", file, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		return nil, fmt.Errorf("ca=%s: no PEM certificate in the file", file)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
