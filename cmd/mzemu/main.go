package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mzsync/mzsync/internal/mzemu"
	"github.com/mzsync/mzsync/internal/pgtest"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type config struct {
	listen, backing       string
	embedded              bool
	hydrationDelay        time.Duration
	revalidateInterval    time.Duration
	lagBucket             time.Duration
	failPattern, failCode string
	failNth, dropAfter    int
	ddlConflictRate       float64
	verbose               bool
}

func parseArgs(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("mzemu", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &config{}
	fs.StringVar(&c.listen, "listen", "127.0.0.1:6875", "TCP address to serve pgwire on")
	fs.StringVar(&c.backing, "backing", os.Getenv("MZEMU_BACKING"), "URL of the PostgreSQL database mzemu owns (superuser)")
	fs.BoolVar(&c.embedded, "embedded", false, "start a throwaway PostgreSQL with a backing and an upstream database")
	fs.DurationVar(&c.hydrationDelay, "hydration-delay", 0, "time a new source table snapshot or MV/index hydration takes (tests hold and release instead: SELECT mzemu_control('hold', ...))")
	fs.DurationVar(&c.lagBucket, "lag-bucket", time.Minute, "length of a wallclock-lag bucket (negative: only on SELECT mzemu_control('close_lag_bucket'))")
	fs.DurationVar(&c.revalidateInterval, "revalidate-interval", 15*time.Second, "how often upstream schemas are re-validated (negative: only on SELECT mzemu_control('revalidate'))")
	fs.StringVar(&c.failPattern, "fail-statement", "", "fault: fail a statement whose text matches this regular expression")
	fs.IntVar(&c.failNth, "fail-nth", 1, "fault: which matching statement fails (1-based)")
	fs.StringVar(&c.failCode, "fail-code", "XX000", "fault: SQLSTATE of the injected failure")
	fs.IntVar(&c.dropAfter, "drop-after", 0, "fault: drop the client connection that sends the Nth statement (0: off)")
	fs.Float64Var(&c.ddlConflictRate, "ddl-conflict-rate", 0, "fault: probability that a committing DDL transaction fails with 40001")
	fs.BoolVar(&c.verbose, "v", false, "log debug messages to stderr")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if c.embedded == (c.backing != "") {
		return nil, errors.New("give exactly one of --backing URL and --embedded")
	}
	return c, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	c, err := parseArgs(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "mzemu:", err)
		return 2
	}
	level := slog.LevelInfo
	if c.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, c, log, stdout); err != nil {
		fmt.Fprintln(stderr, "mzemu:", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, c *config, log *slog.Logger, stdout io.Writer) error {
	backing, upstream := c.backing, ""
	if c.embedded {
		sctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		cluster, err := pgtest.Start(sctx, pgtest.Options{})
		if err != nil {
			return fmt.Errorf("start embedded PostgreSQL: %w", err)
		}
		defer cluster.Stop()
		for _, db := range []string{"mzemu_backing", "upstream"} {
			if err := createDatabase(sctx, cluster.URL("postgres"), db); err != nil {
				return err
			}
		}
		backing, upstream = cluster.URL("mzemu_backing"), cluster.URL("upstream")
	}
	srv, err := mzemu.Start(ctx, mzemu.Options{BackingURL: backing, Listen: c.listen, HydrationDelay: c.hydrationDelay,
		RevalidateInterval: c.revalidateInterval, LagBucket: c.lagBucket, Logger: log})
	if err != nil {
		return err
	}
	defer srv.Close()
	f := srv.Faults()
	if c.failPattern != "" {
		if err := f.FailStatement(c.failPattern, c.failNth, c.failCode); err != nil {
			return err
		}
	}
	f.DropConnectionAfter(c.dropAfter)
	f.SetDDLConflictRate(c.ddlConflictRate)
	fmt.Fprintf(stdout, "materialize=%s\n", srv.URL())
	if upstream != "" {
		fmt.Fprintf(stdout, "upstream=%s\n", upstream)
	}
	if fl, ok := stdout.(interface{ Sync() error }); ok {
		fl.Sync()
	}
	<-ctx.Done()
	log.Info("mzemu shutting down")
	return nil
}

func createDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to embedded PostgreSQL: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}
