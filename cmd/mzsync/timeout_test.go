package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// silentServer listens on loopback and, for every connection, runs answer
// (which may do nothing at all); it never closes a connection before the
// test ends. It returns host:port.
func silentServer(t *testing.T, answer func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go answer(c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// hangAfterStartup completes the PostgreSQL startup (no SSL, trust
// authentication), then reads queries and never answers one.
func hangAfterStartup(c net.Conn) {
	be := pgproto3.NewBackend(c, c)
	for {
		msg, err := be.ReceiveStartupMessage()
		if err != nil {
			return
		}
		if _, ok := msg.(*pgproto3.SSLRequest); ok {
			c.Write([]byte("N"))
			continue
		}
		break
	}
	be.Send(&pgproto3.AuthenticationOk{})
	be.Send(&pgproto3.ParameterStatus{Name: "server_version", Value: "15.0"})
	be.Send(&pgproto3.BackendKeyData{ProcessID: 1, SecretKey: []byte{0, 0, 0, 1}})
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	if err := be.Flush(); err != nil {
		return
	}
	for {
		if _, err := be.Receive(); err != nil {
			return
		}
	}
}

// TestPlanAgainstAHungServerFailsInBoundedTime: a server that accepts TCP
// but never answers, and one that completes the handshake and then never
// answers a query, both make `mzsync plan` fail within its deadlines with
// an error that names the host and never the password. The servers never
// answer, so the failure does not depend on timing; the elapsed-time bound
// is generous and only proves that nothing waits for ever.
func TestPlanAgainstAHungServerFailsInBoundedTime(t *testing.T) {
	const pw = "hunter2-s3cret"
	cases := []struct {
		name   string
		answer func(net.Conn)
		flags  []string
		want   string
	}{
		{"never answers", func(net.Conn) {}, []string{"--connect-timeout", "1s"}, "no answer within 1s"},
		{"hangs after startup", hangAfterStartup, []string{"--statement-timeout", "1s"}, "within 1s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := silentServer(t, tc.answer)
			var stdout, stderr bytes.Buffer
			e := &env{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
			args := append([]string{"plan", "--dir", "../../examples/manifests",
				"--materialize", "postgres://mzsync:" + pw + "@" + addr + "/materialize?sslmode=disable"}, tc.flags...)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			start := time.Now()
			code := dispatch(ctx, e, args)
			elapsed := time.Since(start)
			msg := stderr.String()
			t.Log(strings.TrimSpace(msg))
			if code != exitError {
				t.Fatalf("exit %d, want %d; stdout:\n%s", code, exitError, stdout.String())
			}
			if ctx.Err() != nil || elapsed > 30*time.Second {
				t.Fatalf("plan took %s: not bounded by its 1s deadline", elapsed)
			}
			if !strings.Contains(msg, addr) {
				t.Errorf("error does not name the host %s: %s", addr, msg)
			}
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error does not say %q: %s", tc.want, msg)
			}
			if strings.Contains(msg, pw) || strings.Contains(stdout.String(), pw) {
				t.Errorf("the password leaked: %s", msg)
			}
		})
	}
}
