package reconcile

import (
	"context"
	"time"
)

// backoff is an exponential retry delay: 100ms doubling up to 5s.
type backoff struct{ d time.Duration }

func newBackoff() *backoff { return &backoff{} }

func (b *backoff) next() time.Duration {
	if b.d == 0 {
		b.d = 100 * time.Millisecond
	} else {
		b.d = min(2*b.d, 5*time.Second)
	}
	return b.d
}

func (b *backoff) reset() { b.d = 0 }

// peek is the delay next would return, without advancing.
func (b *backoff) peek() time.Duration {
	c := *b
	return c.next()
}

// retryDeadline is when transient errors stop being retried: ctx's
// deadline, or retryFor from now when that comes first (retryFor > 0).
func retryDeadline(ctx context.Context, retryFor time.Duration) time.Time {
	dl, ok := ctx.Deadline()
	if retryFor > 0 {
		if until := time.Now().Add(retryFor); !ok || until.Before(dl) {
			return until
		}
	}
	if !ok {
		return time.Time{}
	}
	return dl
}
