package mzemu

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Options configure a Server.
type Options struct {
	// BackingURL is the PostgreSQL database mzemu owns and builds the
	// emulated catalog in. Connect as a superuser (postgres_fdw needs it).
	BackingURL string
	// Listen is the TCP address to serve on; default "127.0.0.1:0".
	Listen string
	// HydrationDelay is how long a new source table's snapshot, or a new
	// materialized view's or index's hydration, takes. 0 means instant.
	// Tests never use it to reach a state: they hold and release
	// (Server.Hold, Server.Release) instead.
	HydrationDelay time.Duration
	// RevalidateInterval is how often upstream schemas are re-validated
	// (Materialize: 15 s); 0 means 15 s, negative means never (only
	// Server.Revalidate ticks).
	RevalidateInterval time.Duration
	// LagBucket is the length of a wallclock-lag bucket (Materialize: one
	// minute); 0 means one minute, negative means buckets close only when
	// Server.CloseLagBucket asks.
	LagBucket time.Duration
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
}

// Server is a running emulator.
type Server struct {
	opts   Options
	log    *slog.Logger
	ln     net.Listener
	faults *Faults

	// ddlMu serializes this process's catalog changes; the advisory lock
	// ddlLockKey and mzemu_meta.revision do it across processes.
	ddlMu sync.Mutex
	// catalogLog records committed catalog changes (catalog_log.go).
	catalogLog catalogLog
	// schemaNames are the backing database's schemas as of the last
	// catalog change (nil: unknown), for error translation.
	schemaNames atomic.Pointer[map[string]bool]
	// admin is the watchdog's backing connection (ddl_nowait.go), used
	// only under ddlMu.
	admin *pgconn.PgConn

	// tickReq asks the upstream watcher for a re-validation tick now.
	tickReq chan chan error

	mu       sync.Mutex
	sessions map[uint64]*session
	secrets  map[string]string // secret ID -> value, kept only in memory
	conns    sync.WaitGroup

	ctx      context.Context
	cancel   context.CancelFunc
	done     chan struct{}
	lagsDone chan struct{}
	closed   sync.Once
	// acceptDone is closed when the accept loop has returned.
	acceptDone chan struct{}
}

// Start bootstraps the backing database (when needed) and starts serving.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.BackingURL == "" {
		return nil, errors.New("mzemu: backing URL is required")
	}
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := bootstrap(ctx, opts.BackingURL); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("mzemu: listen on %s: %w", opts.Listen, err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		opts: opts, log: log, ln: ln, faults: &Faults{},
		sessions: map[uint64]*session{}, secrets: map[string]string{},
		ctx: sctx, cancel: cancel, done: make(chan struct{}), lagsDone: make(chan struct{}), acceptDone: make(chan struct{}), tickReq: make(chan chan error),
	}
	if err := s.loadSchemaNames(ctx); err != nil {
		ln.Close()
		cancel()
		return nil, err
	}
	go s.acceptLoop()
	go s.watchUpstreams()
	go s.closeLagBuckets()
	log.Info("mzemu listening", "addr", ln.Addr().String())
	return s, nil
}

// bootstrap builds the catalog in the backing database unless a catalog of
// this mzemu version is already there. It rebuilds only when it read an
// existing catalog of another version; any error reading it (a transient
// one included) fails the start and leaves the metadata alone. Concurrent
// starts over one backing database serialize on an advisory lock.
func bootstrap(ctx context.Context, url string) error {
	if err := injectedStartupFault(url, "connect"); err != nil {
		return fmt.Errorf("mzemu: connect to backing database: %w", err)
	}
	conn, err := pgconn.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("mzemu: connect to backing database: %w", redactErr(err))
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `BEGIN`).ReadAll(); err != nil {
		return fmt.Errorf("mzemu: lock backing database for bootstrap: %w", err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_xact_lock(7395021)`).ReadAll(); err != nil {
		return fmt.Errorf("mzemu: lock backing database for bootstrap: %w", err)
	}
	defer func() { conn.Exec(context.Background(), `ROLLBACK`).ReadAll() }()
	res := conn.ExecParams(ctx, `SELECT to_regclass('mzemu_meta.info') IS NOT NULL`, nil, nil, nil, nil).Read()
	if res.Err == nil {
		res.Err = injectedStartupFault(url, "find-catalog")
	}
	if res.Err != nil {
		return fmt.Errorf("mzemu: read catalog version: %w", res.Err)
	}
	if string(res.Rows[0][0]) == "t" {
		res = conn.ExecParams(ctx, `SELECT value FROM mzemu_meta.info WHERE key = 'version'`, nil, nil, nil, nil).Read()
		if res.Err == nil {
			res.Err = injectedStartupFault(url, "read-version")
		}
		if res.Err != nil {
			return fmt.Errorf("mzemu: read catalog version: %w", res.Err)
		}
		if len(res.Rows) == 1 && string(res.Rows[0][0]) == catalogVersion {
			return nil
		}
	}
	if _, err := conn.Exec(ctx, bootstrapSQL+"COMMIT;").ReadAll(); err != nil {
		return fmt.Errorf("mzemu: bootstrap catalog: %w", err)
	}
	return nil
}

// URL returns a pgx/libpq connection URL for the emulator.
func (s *Server) URL() string {
	return fmt.Sprintf("postgres://materialize@%s/materialize?sslmode=disable", s.Addr())
}

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Faults returns the server's fault injection settings.
func (s *Server) Faults() *Faults { return s.faults }

// Close stops accepting, closes every client session and waits for them.
func (s *Server) Close() error {
	var err error
	s.closed.Do(func() {
		s.cancel()
		err = s.ln.Close()
		// conns.Add in the accept loop must not race conns.Wait below.
		<-s.acceptDone
		s.mu.Lock()
		for _, ss := range s.sessions {
			ss.conn.Close()
		}
		s.mu.Unlock()
		s.conns.Wait()
		<-s.done
		<-s.lagsDone
		s.ddlMu.Lock()
		if s.admin != nil {
			s.admin.Close(context.Background())
		}
		s.ddlMu.Unlock()
	})
	return err
}

func (s *Server) acceptLoop() {
	defer close(s.acceptDone)
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if s.ctx.Err() == nil {
				s.log.Warn("accept", "err", err)
			}
			return
		}
		s.conns.Add(1)
		go func() {
			defer s.conns.Done()
			s.serve(c)
		}()
	}
}

func (s *Server) register(ss *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		var b [8]byte
		rand.Read(b[:])
		key := binary.BigEndian.Uint64(b[:])
		if _, ok := s.sessions[key]; !ok && key != 0 {
			ss.key = key
			s.sessions[key] = ss
			return
		}
	}
}

func (s *Server) unregister(ss *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, ss.key)
}

// cancel forwards a client's cancel request to the session's backing
// connection.
func (s *Server) cancelSession(key uint64) {
	s.mu.Lock()
	ss := s.sessions[key]
	s.mu.Unlock()
	if ss == nil || ss.db == nil {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	if err := ss.db.CancelRequest(ctx); err != nil {
		s.log.Debug("cancel request", "err", err)
	}
}

func (s *Server) secret(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.secrets[id]
}

func (s *Server) setSecrets(m map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range m {
		s.secrets[k] = v
	}
}

// redactErr drops connection details pgconn puts in connect errors, so
// credentials never reach logs or clients.
func redactErr(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return errors.Unwrap(ce)
	}
	return err
}

// loadSchemaNames reads the backing database's schema names at start.
func (s *Server) loadSchemaNames(ctx context.Context) error {
	conn, err := pgconn.Connect(ctx, s.opts.BackingURL)
	if err != nil {
		return fmt.Errorf("mzemu: connect to backing database: %w", redactErr(err))
	}
	defer conn.Close(context.Background())
	res := conn.ExecParams(ctx, `SELECT nspname FROM pg_catalog.pg_namespace`, nil, nil, nil, nil).Read()
	if res.Err == nil {
		res.Err = injectedStartupFault(s.opts.BackingURL, "read-schemas")
	}
	if res.Err != nil {
		return fmt.Errorf("mzemu: read schemas: %w", res.Err)
	}
	m := map[string]bool{}
	for _, r := range res.Rows {
		m[string(r[0])] = true
	}
	s.schemaNames.Store(&m)
	res = conn.ExecParams(ctx, `SELECT backing, name FROM mzemu_meta.long_names`, nil, nil, nil, nil).Read()
	if res.Err == nil {
		res.Err = injectedStartupFault(s.opts.BackingURL, "read-long-names")
	}
	if res.Err != nil {
		return fmt.Errorf("mzemu: read long names: %w", res.Err)
	}
	loadLongNames(res.Rows)
	return nil
}

// startupFault, when set (by tests only), makes a startup step over a
// backing database fail as if the database had failed it: the steps are
// connect, find-catalog, read-version, read-schemas and read-long-names.
var startupFault atomic.Pointer[func(backingURL, step string) error]

func injectedStartupFault(backingURL, step string) error {
	if f := startupFault.Load(); f != nil {
		return (*f)(backingURL, step)
	}
	return nil
}
