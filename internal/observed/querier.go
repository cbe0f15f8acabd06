package observed

import (
	"context"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// Querier is the little of a pgx connection the readers need. *pgx.Conn,
// *pgxpool.Pool, *pgxpool.Conn and pgx.Tx satisfy it.
type Querier interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// CountingQuerier wraps a Querier and counts the requests sent through it:
// each SendBatch and each Query is one request, which is one network round
// trip once pgx has the statements in its cache (pgx prepares a statement
// it has not seen before in one extra round trip, per connection and
// statement, not per object). Benchmarks and tests use it to prove that a
// pass does not cost more with more objects.
type CountingQuerier struct {
	Q        Querier
	requests atomic.Int64
}

// SendBatch forwards to the wrapped Querier and counts one request.
func (c *CountingQuerier) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	c.requests.Add(1)
	return c.Q.SendBatch(ctx, b)
}

// Query forwards to the wrapped Querier and counts one request.
func (c *CountingQuerier) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	c.requests.Add(1)
	return c.Q.Query(ctx, sql, args...)
}

// Requests returns how many requests went through so far.
func (c *CountingQuerier) Requests() int64 { return c.requests.Load() }

// Reset sets the count back to zero.
func (c *CountingQuerier) Reset() { c.requests.Store(0) }

var _ Querier = (*pgx.Conn)(nil)
