package observed

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// wireCounter counts network round trips on a connection: a write after
// a read starts a new request, so a pipeline of many messages flushed
// together and answered together counts once.
type wireCounter struct {
	mu        sync.Mutex
	trips     int
	readSince bool
}

func (w *wireCounter) wrote() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.readSince || w.trips == 0 {
		w.trips++
		w.readSince = false
	}
}

func (w *wireCounter) read() {
	w.mu.Lock()
	w.readSince = true
	w.mu.Unlock()
}

// Trips returns the round trips since the last Reset.
func (w *wireCounter) Trips() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.trips
}

// Reset starts counting again; the next write is a new round trip.
func (w *wireCounter) Reset() {
	w.mu.Lock()
	w.trips, w.readSince = 0, true
	w.mu.Unlock()
}

type countedConn struct {
	net.Conn
	c *wireCounter
}

func (c countedConn) Write(p []byte) (int, error) { c.c.wrote(); return c.Conn.Write(p) }
func (c countedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.c.read()
	}
	return n, err
}

// connectCounted connects to url with every network round trip counted.
func connectCounted(t testing.TB, url string) (*pgx.Conn, *wireCounter) {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	w := &wireCounter{}
	d := &net.Dialer{}
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countedConn{Conn: nc, c: w}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	w.Reset()
	return conn, w
}
