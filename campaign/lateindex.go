package campaign

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/mailer-dev/mailer/address"
)

// Recipients indexes the recipients that results files record as sent,
// to match late reports to them: by the Message-ID of the message they
// were sent, by the envelope sender it went with (the VERP address a
// bounce returns to), and by address. It is compact: the text of each row
// (address, Message-ID, envelope sender) lives once in one byte arena,
// and the three maps hold 8-byte digests and row numbers. A digest that
// collides is checked against the arena, so a collision never matches the
// wrong recipient.
type Recipients struct {
	files []string
	rows  []recipientRow
	arena []byte
	byMID map[uint64]int32
	byEnv map[uint64]int32
	byKey map[uint64]int32
}

type recipientRow struct {
	file       uint16
	line       int32
	off        uint32 // email, message_id, envelope_from, back to back
	email, mid uint16
	env        uint16
}

// Recipient is one sent row of a results file.
type Recipient struct {
	File         string // the results file
	Email        string
	MessageID    string
	EnvelopeFrom string
	Line         int // the list line
}

// IndexRecipients reads the results files at paths. A row counts when a
// relay had its message (delivered, bounced, deferred, blocked, unknown,
// or a late outcome); for an address sent by several runs, ByAddress finds
// the last.
func IndexRecipients(paths ...string) (*Recipients, error) {
	if len(paths) > math.MaxUint16 {
		return nil, fmt.Errorf("%d results files: at most %d", len(paths), math.MaxUint16)
	}
	x := &Recipients{files: paths, byMID: map[uint64]int32{}, byEnv: map[uint64]int32{}, byKey: map[uint64]int32{}}
	for i, p := range paths {
		err := readResults(p, func(r *Record) error {
			switch r.Status {
			case Delivered, Bounced, Deferred, Blocked, Unknown, Complained, Unsubscribed:
			default:
				return nil
			}
			if len(x.rows) == math.MaxInt32 || len(x.arena) > math.MaxUint32-3*math.MaxUint16 {
				return &DataError{File: p, Msg: "too many results rows to index"}
			}
			email, mid, env := clip16(r.Email), clip16(r.MessageID), clip16(r.EnvelopeFrom)
			row := recipientRow{file: uint16(i), line: int32(r.Line), off: uint32(len(x.arena)),
				email: uint16(len(email)), mid: uint16(len(mid)), env: uint16(len(env))}
			x.arena = append(append(append(x.arena, email...), mid...), env...)
			n := int32(len(x.rows))
			x.rows = append(x.rows, row)
			if mid != "" {
				x.byMID[hash64(mid)] = n
			}
			if env != "" {
				// Without VERP every message has the same envelope sender:
				// one shared by several recipients identifies none.
				h := hash64(strings.ToLower(env))
				if prev, ok := x.byEnv[h]; ok && prev >= 0 && !strings.EqualFold(x.rowEmail(prev), email) {
					n = -1
				} else if ok && prev < 0 {
					n = -1
				}
				x.byEnv[h] = n
				n = int32(len(x.rows) - 1)
			}
			x.byKey[hash64(address.Key(email))] = n
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return x, nil
}

func clip16(s string) string {
	if len(s) > math.MaxUint16 {
		return s[:math.MaxUint16]
	}
	return s
}

func hash64(s string) uint64 {
	sum := sha256.Sum256([]byte(s))
	return binary.LittleEndian.Uint64(sum[:8])
}

func (x *Recipients) rowEmail(n int32) string {
	row := x.rows[n]
	return string(x.arena[row.off : int(row.off)+int(row.email)])
}

// Len is the number of sent rows indexed.
func (x *Recipients) Len() int { return len(x.rows) }

func (x *Recipients) get(m map[uint64]int32, key string, same func(Recipient) bool) (Recipient, bool) {
	n, ok := m[hash64(key)]
	if !ok || n < 0 {
		return Recipient{}, false
	}
	row := x.rows[n]
	e := int(row.off) + int(row.email)
	mid := e + int(row.mid)
	r := Recipient{File: x.files[row.file], Line: int(row.line), Email: string(x.arena[row.off:e]),
		MessageID: string(x.arena[e:mid]), EnvelopeFrom: string(x.arena[mid : mid+int(row.env)])}
	return r, same(r)
}

// ByMessageID finds the recipient of the message with this Message-ID
// (without angle brackets).
func (x *Recipients) ByMessageID(id string) (Recipient, bool) {
	if x == nil || id == "" {
		return Recipient{}, false
	}
	return x.get(x.byMID, id, func(r Recipient) bool { return r.MessageID == id })
}

// ByEnvelope finds the recipient whose message went with this envelope
// sender: with VERP, the address a bounce returns to.
func (x *Recipients) ByEnvelope(addr string) (Recipient, bool) {
	if x == nil || addr == "" {
		return Recipient{}, false
	}
	return x.get(x.byEnv, strings.ToLower(addr), func(r Recipient) bool { return strings.EqualFold(r.EnvelopeFrom, addr) })
}

// ByAddress finds the last sent row for the address (compared by
// address.Key).
func (x *Recipients) ByAddress(addr string) (Recipient, bool) {
	if x == nil || addr == "" {
		return Recipient{}, false
	}
	k := address.Key(addr)
	return x.get(x.byKey, k, func(r Recipient) bool { return address.Key(r.Email) == k })
}
