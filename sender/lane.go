package sender

import (
	"context"
	"errors"
	"time"
)

// The lane (RFC 2920 section 3.1). A Send that finds no idle connection of
// its relay offers itself on the relay's handoff channel while it waits for
// one. A pipelining connection whose body is about to leave takes such a
// Send, writes its MAIL, RCPT and DATA in the same write as the body and the
// final dot, and once its own transaction has its reply hands the
// connection over, the replies to the next group already on their way: a
// busy connection costs one round trip per message, not two.
//
// The taker checks what the Send would check before its first byte: its
// ctx (a cancelled Send's message never reaches the wire), its addresses
// and SMTPUTF8, the rate window (counted then, or not taken ahead), the
// relay's quota of messages per connection. When one fails the Send gets
// the connection with nothing sent and runs its transaction itself. Last,
// the taker calls the Send's Begin (Message.Begin), as its group is about
// to be written; when Begin fails the group stays out of the write.

// LaneDepth is how many Sends per connection a caller keeps in flight so
// that a pipelining connection always finds the next message ready as a
// body leaves: one on the wire, one whose group rides with that body, and
// some being prepared.
const LaneDepth = 4

// job is a Send waiting for a connection of its relay.
type job struct {
	ctx   context.Context
	m     *Message
	begin *beginOnce // m's Begin, called by the taker before its group goes
	sent  bool       // its command group left with the previous body
	start time.Time  // then: when it was counted
	// got receives the connection once the taker's transaction is over, or
	// nil when the connection was lost before this job's turn.
	got chan *conn
}

// errLost: the connection a job was promised failed before its turn.
var errLost = errors.New("connection lost before the message was sent")

// take appends to b, the body about to leave on c, the command group of a
// Send waiting for a connection of c's relay, if one waits and may go.
func (c *conn) take(b []byte) []byte {
	r := c.up
	if r.closed.Load() || r.cfg.MsgsPerConn > 0 && c.sent+1 >= r.cfg.MsgsPerConn {
		return b // c ends after this transaction
	}
	var j *job
	select {
	case j = <-r.handoff:
	default:
		return b
	}
	c.next = j
	if j.ctx.Err() != nil {
		return b
	}
	mo, refused := c.check(j.m)
	if refused != nil {
		return b
	}
	start := time.Now()
	if w := c.pool.window; w != nil {
		var ok bool
		if start, ok = w.tryTake(); !ok {
			return b
		}
	}
	if j.begin.call() != nil {
		return b // the Send sees the error when it gets c, with nothing sent
	}
	j.sent, j.start = true, start
	return c.appendEnvelope(b, j.m, mo, false)
}

// handOver gives c to the Send it took, if any, and reports whether it did.
func (r *upstream) handOver(c *conn) bool {
	j := c.next
	if j == nil {
		return false
	}
	c.next = nil
	if c.broken {
		c.close()
		<-r.slots
		j.got <- nil
		return true
	}
	c.wasIdle = true
	j.got <- c
	return true
}
