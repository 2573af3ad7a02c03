package mailbox

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// IMAP reads the UNSEEN messages of one IMAP mailbox over TLS (imaps, port
// 993 by default), fetching each with BODY.PEEK[] so that reading alone
// flags nothing. Mark flags the message \Seen; with Options.MoveTo it moves
// it to that folder (MOVE, or COPY and EXPUNGE where the server lacks it);
// with Options.Delete it flags it \Deleted and expunges it (UID EXPUNGE).
type IMAP struct {
	c      *imapclient.Client
	name   string
	uids   []imap.UID
	max    int64
	moveTo string
	delete bool
}

// OpenIMAP logs in to u ("imaps://user@host[:port]/MAILBOX") with
// opts.IMAPPassword and selects the mailbox (INBOX when the path is empty).
// The TLS certificate is verified; opts.TLSConfig may add roots.
// "imap://" is refused: the password would travel in clear.
func OpenIMAP(ctx context.Context, u *url.URL, opts Options) (*IMAP, error) {
	if !strings.EqualFold(u.Scheme, "imaps") {
		return nil, fmt.Errorf("%s: only imaps:// (IMAP over TLS) is supported", redact(u.String()))
	}
	if u.User == nil || u.User.Username() == "" {
		return nil, fmt.Errorf("%s: no user name", redact(u.String()))
	}
	if _, set := u.User.Password(); set {
		return nil, fmt.Errorf("%s: a password in the URL is refused", redact(u.String()))
	}
	host := u.Hostname()
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(host, "993")
	}
	mbox := strings.TrimPrefix(u.Path, "/")
	if mbox == "" {
		mbox = "INBOX"
	}
	tc := &tls.Config{}
	if opts.TLSConfig != nil {
		tc = opts.TLSConfig.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	if opts.MaxSize <= 0 {
		opts.MaxSize = DefaultMaxSize
	}
	d := tls.Dialer{Config: tc}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("imap %s: %w", addr, err)
	}
	c := imapclient.New(conn, nil)
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	fail := func(what string, err error) (*IMAP, error) {
		c.Close()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("imap %s: %s: %w", addr, what, err)
	}
	if err := c.WaitGreeting(); err != nil {
		return fail("greeting", err)
	}
	if err := c.Login(u.User.Username(), opts.IMAPPassword).Wait(); err != nil {
		return fail("login as "+u.User.Username(), err)
	}
	if _, err := c.Select(mbox, nil).Wait(); err != nil {
		return fail("select "+mbox, err)
	}
	sd, err := c.UIDSearch(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen, imap.FlagDeleted}}, nil).Wait()
	if err != nil {
		return fail("search unseen", err)
	}
	return &IMAP{c: c, name: addr + "/" + mbox, uids: sd.AllUIDs(), max: opts.MaxSize, moveTo: opts.MoveTo, delete: opts.Delete}, nil
}

func (s *IMAP) Next(ctx context.Context) (*Message, error) {
	if s.c == nil {
		return nil, errClosed
	}
	for len(s.uids) > 0 {
		uid := s.uids[0]
		s.uids = s.uids[1:]
		raw, err := s.fetch(ctx, uid)
		if errors.Is(err, errGone) {
			continue // expunged by another client meanwhile
		}
		if err != nil {
			return nil, err
		}
		return &Message{ID: fmt.Sprintf("imap %s UID %d", s.name, uid), Raw: raw, ref: uid}, nil
	}
	return nil, io.EOF
}

var errGone = errors.New("message gone")

func (s *IMAP) fetch(ctx context.Context, uid imap.UID) ([]byte, error) {
	stop := context.AfterFunc(ctx, func() { s.c.Close() })
	defer stop()
	section := &imap.FetchItemBodySection{Peek: true}
	bufs, err := s.c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{
		UID:         true,
		RFC822Size:  true,
		BodySection: []*imap.FetchItemBodySection{section},
	}).Collect()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("imap %s: fetch UID %d: %w", s.name, uid, err)
	}
	if len(bufs) == 0 {
		return nil, errGone
	}
	id := fmt.Sprintf("imap %s UID %d", s.name, uid)
	if bufs[0].RFC822Size > s.max {
		return nil, &TooLargeError{ID: id, Limit: s.max}
	}
	raw := bufs[0].FindBodySection(section)
	if int64(len(raw)) > s.max {
		return nil, &TooLargeError{ID: id, Limit: s.max}
	}
	return raw, nil
}

// Mark flags, moves or deletes m, see IMAP.
func (s *IMAP) Mark(ctx context.Context, m *Message) error {
	uid, ok := m.ref.(imap.UID)
	if !ok || s.c == nil {
		return fmt.Errorf("%s: not a message of this mailbox", m.ID)
	}
	stop := context.AfterFunc(ctx, func() { s.c.Close() })
	defer stop()
	set := imap.UIDSetNum(uid)
	var err error
	switch {
	case s.delete:
		err = s.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen, imap.FlagDeleted}}, nil).Close()
		if err == nil {
			err = s.c.UIDExpunge(set).Close()
		}
	case s.moveTo != "":
		// Seen first, so that the moved copy is not UNSEEN in its folder.
		err = s.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close()
		if err == nil {
			_, err = s.c.Move(set, s.moveTo).Wait()
		}
	default:
		err = s.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close()
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("mark %s: %w", m.ID, err)
	}
	return nil
}

// Close logs out and closes the connection.
func (s *IMAP) Close() error {
	if s.c == nil {
		return nil
	}
	s.c.Logout().Wait()
	err := s.c.Close()
	s.c = nil
	return err
}
