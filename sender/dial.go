package sender

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// dial opens a connection to r: TCP, TLS or STARTTLS, EHLO and AUTH.
func (r *upstream) dial(ctx context.Context) (*conn, error) {
	o := r.pool.opts
	r.pool.dials.Add(1)
	ctx, cancel := context.WithTimeout(ctx, o.ConnectTimeout)
	defer cancel()
	log := r.pool.transcript.conn(r.cfg)
	d := net.Dialer{}
	nc, err := d.DialContext(ctx, "tcp", r.cfg.Addr)
	if err != nil {
		return nil, log.end(fmt.Errorf("connect %s: %w", r.cfg.Name, err))
	}
	// go-smtp takes no context and arms its own deadline per command;
	// trackConn clamps them all to one limit for the whole handshake, and
	// a cancelled ctx pulls that limit to now.
	tc := &trackConn{Conn: nc, log: log}
	tc.setLimit(time.Now().Add(o.ConnectTimeout))
	stop := context.AfterFunc(ctx, tc.abort)
	defer stop()
	fail := func(stage string, err error) (*conn, error) {
		nc.Close()
		// go-smtp's STARTTLS handshake happens inside EHLO: say TLS.
		if cv := (*tls.CertificateVerificationError)(nil); errors.As(err, &cv) && r.cfg.Security == StartTLS {
			stage = "STARTTLS"
		}
		if re := replyError(stage, err); re != nil {
			if stage == "AUTH" && re.Code/100 == 5 { // wrong user or password, most often
				return nil, log.end(&RefusedError{Relay: r.cfg.Name, Reply: re})
			}
			return nil, log.end(fmt.Errorf("%s: %w", r.cfg.Name, re))
		}
		return nil, log.end(fmt.Errorf("%s %s: %w", stage, r.cfg.Name, err))
	}
	cfg := r.tlsConfig()
	var sc *smtp.Client
	switch r.cfg.Security {
	case ImplicitTLS:
		tlsConn := tls.Client(tc, cfg)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			return fail("TLS", err)
		}
		sc = smtp.NewClient(tlsConn)
	case StartTLS:
		// go-smtp says EHLO as "localhost" before STARTTLS, then ours after.
		if sc, err = smtp.NewClientStartTLS(tc, cfg); err != nil {
			if strings.Contains(err.Error(), "doesn't support STARTTLS") {
				err = errors.New("the relay does not offer STARTTLS, which smtp:// requires (smtp+plain:// is for loopback relays)")
			}
			return fail("STARTTLS", err)
		}
	default:
		sc = smtp.NewClient(tc)
	}
	if log != nil {
		sc.DebugWriter = log // plain SMTP after TLS; the bytes before come from tc
	}
	if err := sc.Hello(o.HelloName); err != nil {
		return fail("EHLO", err)
	}
	if st, ok := sc.TLSConnectionState(); ok && log != nil {
		log.Note("%s, %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
	}
	if r.cfg.Username != "" {
		if _, isTLS := sc.TLSConnectionState(); !isTLS {
			return fail("AUTH", errors.New("AUTH over an unencrypted connection is refused"))
		}
		var mech sasl.Client
		switch {
		case sc.SupportsAuth("PLAIN"):
			mech = sasl.NewPlainClient("", r.cfg.Username, r.cfg.Password)
		case sc.SupportsAuth("LOGIN"):
			mech = sasl.NewLoginClient(r.cfg.Username, r.cfg.Password)
		default:
			return fail("AUTH", errors.New("the relay offers neither AUTH PLAIN nor AUTH LOGIN"))
		}
		if err := sc.Auth(mech); err != nil {
			return fail("AUTH", err)
		}
	}
	if !stop() {
		return fail("connect", ctx.Err())
	}
	tc.setLimit(time.Time{})
	sc.CommandTimeout = o.CommandTimeout
	sc.SubmissionTimeout = o.DataTimeout
	r.pool.open.Add(1)
	c := &conn{c: sc, nc: tc, pool: r.pool, up: r}
	if ok, _ := sc.Extension("PIPELINING"); ok {
		if w, ok := wireOf(sc, tc); ok {
			c.pipeline(w)
		}
	}
	return c, nil
}

func (r *upstream) tlsConfig() *tls.Config {
	cfg := &tls.Config{ServerName: r.cfg.Host, MinVersion: tls.VersionTLS12}
	if r.cfg.TLSConfig != nil {
		cfg = r.cfg.TLSConfig.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = r.cfg.Host
		}
	}
	return cfg
}
