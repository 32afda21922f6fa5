package healthcheck

import (
	"sync"
)

// verdictQueue stands between the checks and the reader of Verdicts. push
// never blocks; a single deliverer goroutine sends to out. Memory is bounded
// by the number of checks: a check has at most one pending verdict, which a
// newer one replaces.
type verdictQueue struct {
	out  chan Verdict
	kick chan struct{} // capacity 1: "pending may have grown"
	done chan struct{} // closed by close

	mu      sync.Mutex
	pending map[ID]pendingVerdict
	order   []ID // IDs of pending, oldest first, each once
}

// pendingVerdict is a verdict waiting for the reader, with what was last
// handed to it for the check.
type pendingVerdict struct {
	v    Verdict
	sent *sentState // the check's own (check.sent), under verdictQueue.mu
}

// sentState is the Up of the last verdict of a check handed to the
// reader: kept in the check, not in a map of the queue's (one entry per
// check, for the check's life, in a map keyed by a string).
type sentState uint8

const (
	sentNone sentState = iota
	sentDown
	sentUp
)

func newVerdictQueue() *verdictQueue {
	return &verdictQueue{
		out:     make(chan Verdict, verdictBuffer),
		kick:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		pending: make(map[ID]pendingVerdict),
	}
}

// push queues v, of the check whose sentState sent is, and reports
// whether it did. The Manager pushes under its check's lock, unless the
// check stopped: a check stopped (then forgotten) pushes nothing after. A
// check made anew (another *sentState) reports its first result again.
func (q *verdictQueue) push(v Verdict, sent *sentState) bool {
	q.mu.Lock()
	if _, ok := q.pending[v.ID]; !ok {
		q.order = append(q.order, v.ID)
	}
	q.pending[v.ID] = pendingVerdict{v: v, sent: sent}
	q.mu.Unlock()
	select {
	case q.kick <- struct{}{}:
	default:
	}
	return true
}

// forget drops the pending verdicts of stopped checks.
func (q *verdictQueue) forget(ids []ID) {
	if len(ids) == 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, id := range ids {
		delete(q.pending, id)
	}
}

// next pops the oldest pending verdict that changes what the reader knows.
// A verdict equal to the last one sent for its ID (a flap that ended where
// it started while the reader lagged) is dropped.
func (q *verdictQueue) next() (Verdict, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.order) > 0 {
		id := q.order[0]
		q.order[0] = ""
		q.order = q.order[1:]
		p, ok := q.pending[id]
		if !ok {
			continue // forgotten
		}
		delete(q.pending, id)
		now := sentDown
		if p.v.Up {
			now = sentUp
		}
		if *p.sent == now {
			continue
		}
		*p.sent = now
		return p.v, true
	}
	q.order = nil // let the backing array go
	return Verdict{}, false
}

// deliver sends pending verdicts to out until close.
func (q *verdictQueue) deliver() {
	for {
		v, ok := q.next()
		if !ok {
			select {
			case <-q.kick:
				continue
			case <-q.done:
				return
			}
		}
		select {
		case q.out <- v:
		case <-q.done:
			return
		}
	}
}

func (q *verdictQueue) close() { close(q.done) }
