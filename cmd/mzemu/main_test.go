package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestParseArgs(t *testing.T) {
	cases := []struct {
		name string
		args []string
		ok   bool
	}{
		{"backing", []string{"--backing", "postgres://x/y"}, true},
		{"embedded", []string{"--embedded", "--hydration-delay", "1s"}, true},
		{"neither", nil, false},
		{"both", []string{"--embedded", "--backing", "postgres://x/y"}, false},
		{"stray argument", []string{"--embedded", "extra"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseArgs(tc.args, io.Discard)
			if (err == nil) != tc.ok {
				t.Fatalf("parseArgs(%v) error = %v, want ok=%v", tc.args, err, tc.ok)
			}
		})
	}
}

// TestEmbedded starts mzemu --embedded, reads its endpoint lines, and
// runs a source-fed table through both endpoints.
func TestEmbedded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c, err := parseArgs([]string{"--embedded", "--listen", "127.0.0.1:0", "--hydration-delay", "0s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- serve(sctx, c, slog.New(slog.NewTextHandler(io.Discard, nil)), pw)
		pw.Close()
	}()
	urls := map[string]string{}
	sc := bufio.NewScanner(pr)
	for len(urls) < 2 && sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		urls[k] = v
	}
	go io.Copy(io.Discard, pr)
	if urls["materialize"] == "" || urls["upstream"] == "" {
		stop()
		t.Fatalf("endpoints = %v (serve: %v)", urls, <-done)
	}
	up, err := pgx.Connect(ctx, urls["upstream"])
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close(ctx)
	for _, s := range []string{`CREATE TABLE t (a int)`, `ALTER TABLE t REPLICA IDENTITY FULL`, `INSERT INTO t VALUES (5)`, `CREATE PUBLICATION mz_source FOR ALL TABLES`} {
		if _, err := up.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	mz, err := pgx.Connect(ctx, urls["materialize"])
	if err != nil {
		t.Fatal(err)
	}
	defer mz.Close(ctx)
	port := up.Config().Port
	for _, s := range []string{
		`CREATE CONNECTION pg TO POSTGRES (HOST '127.0.0.1', PORT ` + strconv.Itoa(int(port)) + `, USER 'postgres', DATABASE 'upstream')`,
		`CREATE SOURCE src FROM POSTGRES CONNECTION pg (PUBLICATION 'mz_source')`,
		`CREATE TABLE t FROM SOURCE src (REFERENCE public.t)`,
	} {
		if _, err := mz.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	var a int
	if err := mz.QueryRow(ctx, `SELECT a FROM t`).Scan(&a); err != nil || a != 5 {
		t.Fatalf("t.a = %d, %v", a, err)
	}
	mz.Close(ctx)
	up.Close(ctx)
	stop()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
}
