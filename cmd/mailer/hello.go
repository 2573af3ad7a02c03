package main

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"strings"

	"github.com/mailer-dev/mailer/render"
)

// helloName is the name mailer gives in EHLO when --hello-name is not set,
// and why it was chosen (for --print-config). RFC 5321 section 4.1.1.1 asks
// for the client's fully-qualified domain name, and relays refuse or score
// down a bare host name ("vm", "ip-10-0-0-5"), so a short name is never
// sent: it is completed from /etc/hosts (no DNS: a run must not depend on
// the resolver, and tests must not touch it), else the From domain of the
// template is used, else the short name with ".localdomain" added, as
// Postfix does for myhostname.
func helloName(hostname string, hosts []byte, fromDomain string) (name, why string) {
	hostname = strings.TrimSuffix(strings.TrimSpace(hostname), ".")
	if isFQDN(hostname) {
		return hostname, "this host's name"
	}
	if fq := fqdnFromHosts(hosts, hostname); fq != "" {
		return fq, "this host's name in /etc/hosts"
	}
	if fromDomain != "" {
		return fromDomain, "the template's From domain (this host's name " + quoteOr(hostname, "is unknown") + " has no domain)"
	}
	if hostname == "" {
		hostname = "localhost"
	}
	return hostname + ".localdomain", "this host's name with .localdomain, as Postfix does (no domain in the host name, /etc/hosts or the template's From)"
}

func quoteOr(s, alt string) string {
	if s == "" {
		return alt
	}
	return `"` + s + `"`
}

// isFQDN reports a name with a dot that is not an IP address.
func isFQDN(name string) bool {
	return strings.Contains(name, ".") && net.ParseIP(name) == nil && !strings.HasPrefix(name, ".")
}

// fqdnFromHosts finds short's full name in an /etc/hosts file: on a line
// that names short (or short.domain), the first name of the form
// short.domain. "127.0.1.1 vm.example.com vm" gives vm.example.com.
func fqdnFromHosts(hosts []byte, short string) string {
	if short == "" || strings.EqualFold(short, "localhost") {
		return "" // localhost.localdomain names every machine
	}
	prefix := strings.ToLower(short) + "."
	sc := bufio.NewScanner(bytes.NewReader(hosts))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		names := f[1:]
		for _, n := range names {
			if !strings.EqualFold(n, short) && !strings.HasPrefix(strings.ToLower(n), prefix) {
				continue
			}
			for _, m := range names {
				m = strings.TrimSuffix(m, ".")
				if strings.HasPrefix(strings.ToLower(m), prefix) && isFQDN(m) && !strings.HasSuffix(strings.ToLower(m), ".localdomain") {
					return m
				}
			}
			break
		}
	}
	return ""
}

// defaultHelloName is helloName for this machine and template t (nil when
// it could not be loaded).
func defaultHelloName(t *render.Template) (name, why string) {
	host, _ := os.Hostname()
	hosts, _ := os.ReadFile("/etc/hosts")
	from := ""
	if t != nil {
		from = t.FromDomain()
	}
	return helloName(host, hosts, from)
}
